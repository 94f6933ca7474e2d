// Authentication, authorization and transport security of the gRPC APIs (docs/configuration.md).
export {
  AUTH_NONE_WARNING,
  AUTHORIZATION_METADATA,
  type AuthConfig,
  type Authenticator,
  type AuthenticatorOptions,
  type AuthLogger,
  type AuthMode,
  bearerToken,
  createAuthenticator,
  type Principal,
  parseJwks,
} from "./authenticator.js";
export { ADMIN_ROLE, authorizeAdmin, authorizeTenant } from "./authorize.js";
export { AuthConfigError, AuthError, type AuthErrorCode } from "./errors.js";
export {
  type ChannelTlsOptions,
  type ClientApiTlsConfig,
  type ClientAuth,
  clientApiChannelCredentials,
  clientApiServerCredentials,
  type PeerCredentials,
  type PeerTlsConfig,
  peerCredentials,
} from "./tls.js";
