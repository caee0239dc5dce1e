// Worker threads do not inherit tsx's loader, so the worker registers it before loading its TypeScript entry.
import { register } from "tsx/esm/api";

register();
const entry = await import("./worker-entry.ts");
export default entry.default;
