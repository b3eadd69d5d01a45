/** The user-agent layer: every request says what sent it (registries use it for diagnostics and abuse handling). */
import { VERSION } from '../version.ts';
import type { HttpRequest, Layer, Response } from './http.ts';

export const HOMEPAGE = 'https://github.com/multiarch-manifest/multiarch-manifest-action';
export const USER_AGENT = `multiarch-manifest-action/${VERSION} (+${HOMEPAGE}) node/${process.version}`;

export class UserAgentTransport implements Layer {
  private readonly next: Layer;
  private readonly userAgent: string;

  constructor(next: Layer, userAgent = USER_AGENT) {
    this.next = next;
    this.userAgent = userAgent;
  }

  send(req: HttpRequest): Promise<Response> {
    return this.next.send({ ...req, headers: { ...req.headers, 'user-agent': this.userAgent } });
  }
}
