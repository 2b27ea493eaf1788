/**
 * Which requests are for people (web pages, with HTML error pages) and which
 * for machines (the JSON API, the update endpoints, health and metrics, with
 * JSON or protocol errors). Only the machine paths are listed: a mistyped
 * address, a missing file or an old bookmark is a person's, and gets a page.
 *
 * A prefix is enough, and must be: `/nic/update;jsessionid=…`, `/u.php%zz` and
 * `/API/V1/…` are still a machine talking (Express routes case-insensitively),
 * and a router shown an HTML page would log it as an update answer.
 */
const MACHINE_PATH = /^\/(api|nic|v3\/update|update|u\.php|checkip|healthz|readyz|metrics)(?![a-z0-9_-])/i;

export function isWebPath(path: string): boolean {
  return !MACHINE_PATH.test(path);
}
