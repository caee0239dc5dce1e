export * from "./auth.js";
export * from "./automations.js";
export * from "./chats.js";
export * from "./graph.js";
export * from "./settings.js";
export * from "./sources.js";
