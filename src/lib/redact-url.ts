/**
 * URLs in log lines and messages lose what may carry a secret: the userinfo (`user:token@`) and the query
 * string (`?token=…`). Kept: scheme, host, port and path, enough to tell which endpoint failed.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const auth = parsed.username || parsed.password ? "***@" : "";
    const query = parsed.search ? "?***" : "";
    return `${parsed.protocol}//${auth}${parsed.host}${parsed.pathname}${query}`;
  } catch {
    return "<invalid URL>";
  }
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;

/** Every URL inside free text (an error message from fetch, say) redacted as `redactUrl` does. */
export function redactUrlsIn(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => redactUrl(url));
}

/** True when a URL carries credentials in its userinfo, which fetch refuses and which would end up in logs. */
export function hasUserinfo(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.username !== "" || parsed.password !== "";
  } catch {
    return false;
  }
}
