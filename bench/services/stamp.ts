/**
 * Bench-only service: answers the moment (wall clock, sub-millisecond) its handler received
 * the call, and when its process started, so the bench can split a call's latency into
 * "until the worker had it" and the rest.
 */
import { defineService } from '@runlet/sdk';

const wallNow = () => performance.timeOrigin + performance.now();

export default defineService({
  description: 'Answers when it received the call (bench)',
  handler: () => ({ receivedAt: wallNow(), processStartedAt: performance.timeOrigin, pid: process.pid }),
});
