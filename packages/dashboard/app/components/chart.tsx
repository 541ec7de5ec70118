import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const COLORS = ['#6d5dfc', '#0ea5a4', '#f59e0b', '#ef4444', '#3b82f6', '#10b981', '#ec4899', '#84cc16'];

/** Runs per hour, one line per service (uPlot: small, canvas, no network). */
export function HourlyChart({ since, series, title }: { since: string; series: { name: string; values: number[] }[]; title: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current || series.length === 0) return;
    const start = Date.parse(since) / 1000;
    const hours = series[0]!.values.length;
    const x = Array.from({ length: hours }, (_, i) => start + i * 3600);
    const plot = new uPlot(
      {
        width: el.current.clientWidth || 600,
        height: 240,
        legend: { live: false },
        series: [{}, ...series.map((s, i) => ({ label: s.name, stroke: COLORS[i % COLORS.length], width: 2, fill: `${COLORS[i % COLORS.length]}22` }))],
        axes: [{ stroke: '#5b6170', grid: { stroke: '#eef0f4' } }, { stroke: '#5b6170', grid: { stroke: '#eef0f4' } }],
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      },
      [x, ...series.map((s) => s.values)],
      el.current,
    );
    const resize = () => plot.setSize({ width: el.current?.clientWidth || 600, height: 240 });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.destroy();
    };
  }, [since, series]);
  return <div ref={el} role="img" aria-label={title} className="chart" />;
}
