import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";

/** Where the copies go; plain data, so it can be posted to a worker thread. Never holds credentials. */
export interface StoreSettings {
  bucket: string;
  endpoint?: string | undefined;
  region: string;
  forcePathStyle: boolean;
}

// The SDK prints a multi-line Node 22 notice on stderr; the pin and the Node 20 plan are in docs/offsite.md.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/**
 * Credentials come only from the SDK's default chain (env, profile, role). A custom endpoint gets checksums only
 * when an operation requires them: R2, B2, older MinIO and s3rver reject or mangle the newer default headers.
 */
export function createS3Client(store: StoreSettings): S3Client {
  const custom = store.endpoint !== undefined;
  return new S3Client({
    region: store.region,
    forcePathStyle: store.forcePathStyle,
    maxAttempts: 2,
    ...(custom
      ? {
          endpoint: store.endpoint,
          requestChecksumCalculation: "WHEN_REQUIRED",
          responseChecksumValidation: "WHEN_REQUIRED",
        }
      : {}),
  });
}

/** An object a listing names: its key and stored size. */
export interface ListedObject {
  key: string;
  size: number;
}

/**
 * Every object under `prefix`, one listing page (up to 1,000) at a time; a failed listing request throws what
 * `fail` makes of its error (each caller names its own failure).
 */
export async function* listPrefix(
  client: S3Client,
  bucket: string,
  prefix: string,
  fail: (error: unknown) => unknown = (error) => error,
): AsyncGenerator<ListedObject> {
  let token: string | undefined;
  do {
    const page = await client
      .send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }))
      .catch((error: unknown) => {
        throw fail(error);
      });
    for (const item of page.Contents ?? []) if (item.Key) yield { key: item.Key, size: item.Size ?? 0 };
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** `listPrefix` gathered into one array (a database's folder: its manifests, or its packs). */
export async function listAll(client: S3Client, bucket: string, prefix: string): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  for await (const object of listPrefix(client, bucket, prefix)) out.push(object);
  return out;
}

export type StoreFailure = "unreachable" | "denied" | "not_found" | "error";

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
]);
const DENIED = new Set(["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "Forbidden"]);

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Is this error the store's (network, HTTP, credentials) rather than ours? */
export function isStoreError(error: unknown): boolean {
  const e = error as SdkError;
  return (
    e?.$metadata !== undefined ||
    NETWORK_CODES.has(e?.code ?? "") ||
    e?.name === "TimeoutError" ||
    e?.name === "CredentialsProviderError" ||
    /socket hang up|ECONNRESET|ECONNREFUSED/.test(e?.message ?? "")
  );
}

/**
 * A store error reduced to facts safe to log and show: the SDK's errors carry request details (a signature
 * mismatch echoes the access key id and the string it signed), so only the name, status and message pass.
 */
export function describeStoreError(error: unknown): { failure: StoreFailure; message: string; status?: number } {
  const e = error as SdkError;
  const status = e?.$metadata?.httpStatusCode;
  const name = e?.name ?? "Error";
  if (status === 404 || name === "NoSuchKey" || name === "NotFound") {
    return { failure: "not_found", message: "no such object", status: 404 };
  }
  if (DENIED.has(name) || status === 403 || name === "CredentialsProviderError") {
    return { failure: "denied", message: `the store refused the credentials or the request (${name})`, status };
  }
  if (status === undefined) {
    const code = e?.code ?? name;
    return { failure: "unreachable", message: `the store cannot be reached (${code})` };
  }
  const text = (e?.message ?? "").split("\n")[0]?.slice(0, 200) ?? "";
  return { failure: "error", message: `the store answered ${status} ${name}${text ? `: ${text}` : ""}`, status };
}
