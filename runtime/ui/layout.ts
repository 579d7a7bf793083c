/**
 * Statechart layout with elkjs (layered, hierarchy included), computed at build time so the page
 * needs neither a layout engine nor the internet. Node sizes come from their labels (an estimate
 * of the page's monospace-free font: about 7 px per character at 13 px).
 */
import elkModule from 'elkjs/lib/elk.bundled.js';
import type { Chart, ChartNode } from '../inspect/charts.js';

export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface ChartLayout {
  readonly width: number;
  readonly height: number;
  /** Absolute boxes by state node id. */
  readonly nodes: Readonly<Record<string, Box>>;
  /** Polylines by `<edge id>-><target>`, absolute, with the label's box. */
  readonly edges: Readonly<Record<string, { readonly points: readonly (readonly [number, number])[]; readonly label: Box | undefined }>>;
}

interface ElkLabel {
  text: string;
  width: number;
  height: number;
  x?: number;
  y?: number;
}
interface ElkNode {
  id: string;
  width?: number;
  height?: number;
  x?: number;
  y?: number;
  labels?: ElkLabel[];
  children?: ElkNode[];
  edges?: ElkEdge[];
  layoutOptions?: Record<string, string>;
}
interface ElkEdge {
  id: string;
  sources: string[];
  targets: string[];
  labels?: ElkLabel[];
  container?: string;
  sections?: { startPoint: { x: number; y: number }; endPoint: { x: number; y: number }; bendPoints?: { x: number; y: number }[] }[];
}

const CHAR_PX = 7.2;
const textWidth = (text: string) => Math.ceil(text.length * CHAR_PX) + 16;

function elkNodeOf(node: ChartNode): ElkNode {
  const label = node.key;
  if (node.children.length === 0) {
    return { id: node.id, width: Math.max(72, textWidth(label)), height: 34, labels: [{ text: label, width: textWidth(label), height: 16 }] };
  }
  return {
    id: node.id,
    labels: [{ text: label, width: textWidth(label), height: 16 }],
    layoutOptions: {
      'elk.padding': '[top=34,left=14,bottom=14,right=14]',
      'elk.direction': node.type === 'parallel' ? 'RIGHT' : 'DOWN',
      'elk.nodeLabels.placement': 'INSIDE V_TOP H_LEFT',
    },
    children: node.children.map(elkNodeOf),
  };
}

// elkjs is CommonJS: under NodeNext its default import is the module object.
const ELK = ((elkModule as unknown as { default?: unknown }).default ?? elkModule) as unknown as new () => { layout(graph: unknown): Promise<unknown> };

export async function layoutChart(chart: Chart): Promise<ChartLayout> {
  const elk = new ELK();
  const edges: ElkEdge[] = chart.edges.flatMap((edge) =>
    (edge.targets.length === 0 ? [] : edge.targets).map((target) => ({
      id: `${edge.id}->${target}`,
      sources: [edge.source],
      targets: [target],
      labels: [{ text: edge.label, width: textWidth(edge.label) - 8, height: 14 }],
    })),
  );
  const graph: ElkNode = {
    id: '__graph',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'DOWN',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.edgeRouting': 'POLYLINE',
      'elk.layered.spacing.nodeNodeBetweenLayers': '36',
      'elk.spacing.nodeNode': '24',
      'elk.spacing.edgeLabel': '4',
      'elk.edgeLabels.inline': 'false',
    },
    children: [elkNodeOf(chart.root)],
    edges,
  };
  const laid = (await elk.layout(graph as never)) as ElkNode;
  const nodes: Record<string, Box> = {};
  const origins = new Map<string, { x: number; y: number }>([['__graph', { x: 0, y: 0 }]]);
  const walk = (node: ElkNode, parentX: number, parentY: number) => {
    const x = parentX + (node.x ?? 0);
    const y = parentY + (node.y ?? 0);
    origins.set(node.id, { x, y });
    if (node.id !== '__graph') nodes[node.id] = { x, y, width: node.width ?? 0, height: node.height ?? 0 };
    for (const child of node.children ?? []) walk(child, x, y);
  };
  walk(laid, 0, 0);
  const laidEdges: Record<string, { points: [number, number][]; label: Box | undefined }> = {};
  const collect = (node: ElkNode) => {
    for (const edge of node.edges ?? []) {
      // Edge coordinates are relative to the edge's container (elkjs names it).
      const origin = origins.get(edge.container ?? node.id) ?? { x: 0, y: 0 };
      const section = edge.sections?.[0];
      if (!section) continue;
      const points: [number, number][] = [section.startPoint, ...(section.bendPoints ?? []), section.endPoint].map((point) => [
        Math.round(origin.x + point.x),
        Math.round(origin.y + point.y),
      ]);
      const label = edge.labels?.[0];
      laidEdges[edge.id] = {
        points,
        label: label?.x === undefined ? undefined : { x: Math.round(origin.x + label.x), y: Math.round(origin.y + (label.y ?? 0)), width: label.width, height: label.height },
      };
    }
    for (const child of node.children ?? []) collect(child);
  };
  collect(laid);
  return { width: Math.ceil(laid.width ?? 0), height: Math.ceil(laid.height ?? 0), nodes, edges: laidEdges };
}
