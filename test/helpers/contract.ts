import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { apiDocument } from "../../src/http/api.js";
import { API_BASE } from "../../src/http/openapi/document.js";

/**
 * The contract check: every REST response a test receives must be declared by the OpenAPI document for
 * its route, method and status, with a body matching the declared schema and the required headers.
 * Wired into test/helpers/app.ts, so every test that talks to a test app is checked without extra code.
 */

type Schema = Record<string, unknown>;
interface MediaType {
  schema?: Schema;
}
interface ResponseObject {
  headers?: Record<string, { required?: boolean }>;
  content?: Record<string, MediaType>;
}
interface Operation {
  responses: Record<string, ResponseObject>;
}

const document = apiDocument() as unknown as {
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, unknown>;
};

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addFormat("binary", true);

const validators = new Map<Schema, ValidateFunction>();
function validatorFor(schema: Schema): ValidateFunction {
  let validate = validators.get(schema);
  if (!validate) {
    // `#/components/...` references resolve against this root.
    validate = ajv.compile({ ...schema, components: document.components });
    validators.set(schema, validate);
  }
  return validate;
}

/** Path templates as regexes; templates without parameters win over ones with them (`/databases/current`). */
const routes = Object.keys(document.paths)
  .map((template) => ({
    template,
    params: (template.match(/\{/g) ?? []).length,
    regex: new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`),
  }))
  .sort((a, b) => a.params - b.params);

const ERROR_SCHEMA = { $ref: "#/components/schemas/Error" };

export class ContractViolation extends Error {
  override name = "ContractViolation";
}

/** Throws a ContractViolation when the response is not what the document promises; skips non-REST paths. */
export async function checkContract(request: Request, response: Response): Promise<void> {
  const url = new URL(request.url);
  if (!url.pathname.startsWith(`${API_BASE}/`)) return;
  // Hono answers HEAD with the GET route's headers and no body.
  const method = request.method === "HEAD" ? "get" : request.method.toLowerCase();
  const label = `${request.method} ${url.pathname} → ${response.status}`;
  const template = routes.find((r) => r.regex.test(url.pathname.slice(API_BASE.length)))?.template;
  const operation = template ? document.paths[template]?.[method] : undefined;
  if (!operation) {
    // The app's answer to a route it does not have (the gate refuses anonymous callers before routing).
    if (response.status === 404 || response.status === 401) return checkBody(label, response, ERROR_SCHEMA);
    throw new ContractViolation(`${label}: the route is not in the OpenAPI document`);
  }
  const declared = operation.responses[String(response.status)];
  if (!declared) throw new ContractViolation(`${label}: status ${response.status} is not documented for this route`);
  for (const [name, spec] of Object.entries(declared.headers ?? {})) {
    if (spec.required && !response.headers.has(name)) {
      throw new ContractViolation(`${label}: required header ${name} is missing`);
    }
  }
  const type = (response.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (request.method === "HEAD") return;
  if (!declared.content) {
    if (response.body !== null && type !== "") throw new ContractViolation(`${label}: a body that is not documented`);
    return;
  }
  const media = declared.content[type];
  if (!media) throw new ContractViolation(`${label}: Content-Type "${type}" is not documented`);
  if (type === "application/json" && media.schema) await checkBody(label, response, media.schema);
}

async function checkBody(label: string, response: Response, schema: Schema): Promise<void> {
  const text = await response.clone().text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ContractViolation(`${label}: the body is not JSON: ${text.slice(0, 200)}`);
  }
  const validate = validatorFor(schema);
  if (!validate(body)) {
    const problems = ajv.errorsText(validate.errors, { dataVar: "body" });
    throw new ContractViolation(`${label}: the body does not match the document: ${problems}\n${text.slice(0, 500)}`);
  }
}

type Fetch = (request: Request, ...rest: never[]) => Response | Promise<Response>;

/** Wraps an app's fetch (which Hono's `app.request` also goes through) with the contract check. */
export function withContractCheck<F extends Fetch>(fetch: F): F {
  const checked = async (request: Request, ...rest: never[]) => {
    const response = await fetch(request, ...rest);
    try {
      await checkContract(request, response);
    } catch (error) {
      // A real server turns a throw into a bare 500; say why, too.
      console.error(String(error));
      throw error;
    }
    return response;
  };
  return checked as F;
}
