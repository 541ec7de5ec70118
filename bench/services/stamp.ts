/**
 * Bench-only service: answers the moment (wall clock, sub-millisecond) its handler received
 * the call, and when its process started, so the bench can split a call's latency into
 * "until the worker had it" and the rest.
 */
import { defineService } from '@runlet/sdk';

const wallNow = () => performance.timeOrigin + performance.now();

export default defineService({
  description: 'Answers when it received the call (bench)',
  handler: () => {
    const receivedAt = wallNow();
    const cpu = process.cpuUsage();
    // cpuMs: CPU the process had used by then (for a fresh worker: what booting it cost, free of contention).
    return { receivedAt, processStartedAt: performance.timeOrigin, cpuMs: (cpu.user + cpu.system) / 1000, pid: process.pid };
  },
});
