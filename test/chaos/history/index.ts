export * from "./ops.js";
export * from "./recorder.js";
export * from "./types.js";
