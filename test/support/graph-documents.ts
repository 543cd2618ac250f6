import { parse } from '@ts-graphviz/ast';

/** Readers of the documents ExportProvenanceGraph renders, strict enough to fail on a malformed one. */

export interface ParsedGraph {
  /** Node ids in declaration order, with their attributes. */
  nodes: Map<string, Record<string, string>>;
  /** [parent, child] pairs in order. */
  edges: Array<[string, string]>;
}

interface DotAst {
  type: string;
  id?: { value: string };
  directed?: boolean;
  targets?: DotAst[];
  key?: { value: string };
  value?: { value: string };
  children: DotAst[];
}

/** Parses DOT with @ts-graphviz/ast (a syntax error throws) and requires one directed graph named provenance of node and edge statements. */
export function parseDot(content: string): ParsedGraph {
  const document = parse(content) as unknown as DotAst;
  const graphs = document.children.filter((child) => child.type === 'Graph');
  if (graphs.length !== 1) throw new Error(`expected one graph, found ${graphs.length}`);
  const graph = graphs[0]!;
  if (!graph.directed || graph.id?.value !== 'provenance') throw new Error('expected digraph provenance');
  const parsed: ParsedGraph = { nodes: new Map(), edges: [] };
  for (const statement of graph.children) {
    if (statement.type === 'Node') {
      if (parsed.nodes.has(statement.id!.value)) throw new Error(`node ${statement.id!.value} declared twice`);
      parsed.nodes.set(statement.id!.value, Object.fromEntries(statement.children.map((a) => [a.key!.value, a.value!.value])));
    } else if (statement.type === 'Edge') {
      const ends = statement.targets!.map((target) => target.id!.value);
      if (ends.length !== 2) throw new Error(`expected an edge of two nodes, found ${ends.join(' -> ')}`);
      parsed.edges.push([ends[0]!, ends[1]!]);
    } else if (statement.type !== 'AttributeList') {
      throw new Error(`unexpected ${statement.type} statement`);
    }
  }
  return parsed;
}

/**
 * Reads a Mermaid flowchart of the shape the export writes: the header, then
 * `id["label"]:::class` nodes, `a --> b` edges and classDef lines. Anything
 * else, a node declared twice, or an edge or class naming something
 * undeclared throws.
 */
export function parseMermaid(content: string): ParsedGraph {
  const [header, ...lines] = content.trimEnd().split('\n');
  if (header !== 'flowchart TD' && header !== 'flowchart LR') throw new Error(`not a flowchart header: ${header}`);
  const parsed: ParsedGraph = { nodes: new Map(), edges: [] };
  const classes = new Set<string>();
  const usedClasses: string[] = [];
  for (const line of lines) {
    const node = /^ {2}([A-Za-z][A-Za-z0-9_]*)\["([^"]*)"\]:::([a-z]+)$/.exec(line);
    const edge = /^ {2}([A-Za-z][A-Za-z0-9_]*) --> ([A-Za-z][A-Za-z0-9_]*)$/.exec(line);
    const classDef = /^ {2}classDef ([a-z]+) \S.*$/.exec(line);
    if (node) {
      if (parsed.nodes.has(node[1]!)) throw new Error(`node ${node[1]} declared twice`);
      parsed.nodes.set(node[1]!, { label: node[2]!, class: node[3]! });
      usedClasses.push(node[3]!);
    } else if (edge) {
      for (const end of [edge[1]!, edge[2]!]) if (!parsed.nodes.has(end)) throw new Error(`edge names undeclared node ${end}`);
      parsed.edges.push([edge[1]!, edge[2]!]);
    } else if (classDef) {
      classes.add(classDef[1]!);
    } else {
      throw new Error(`unexpected line: ${line}`);
    }
  }
  for (const name of usedClasses) if (!classes.has(name)) throw new Error(`class ${name} has no classDef`);
  return parsed;
}

/** The record kinds of the PROV-JSON submission (section 3), besides `prefix`. */
const RECORD_KINDS = new Set([
  'entity',
  'activity',
  'agent',
  'wasGeneratedBy',
  'used',
  'wasInformedBy',
  'wasStartedBy',
  'wasEndedBy',
  'wasInvalidatedBy',
  'wasDerivedFrom',
  'wasAttributedTo',
  'wasAssociatedWith',
  'actedOnBehalfOf',
  'wasInfluencedBy',
  'specializationOf',
  'alternateOf',
  'mentionOf',
  'hadMember',
  'bundle',
]);

/** For each relation checked: its attributes naming other records, the kind each must be declared as, and whether it is required. */
const RELATION_ROLES: Record<string, Array<{ attribute: string; kind: string; required: boolean }>> = {
  used: [
    { attribute: 'prov:activity', kind: 'activity', required: true },
    { attribute: 'prov:entity', kind: 'entity', required: false },
  ],
  wasGeneratedBy: [
    { attribute: 'prov:entity', kind: 'entity', required: true },
    { attribute: 'prov:activity', kind: 'activity', required: false },
  ],
  wasInformedBy: [
    { attribute: 'prov:informed', kind: 'activity', required: true },
    { attribute: 'prov:informant', kind: 'activity', required: true },
  ],
  wasAssociatedWith: [
    { attribute: 'prov:activity', kind: 'activity', required: true },
    { attribute: 'prov:agent', kind: 'agent', required: false },
  ],
};

/** Attributes whose values are xsd:dateTime (section 3 of the submission writes them as plain strings). */
const TIME_ATTRIBUTES = new Set(['prov:time', 'prov:startTime', 'prov:endTime']);
const DATE_TIME = /^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;
const LITERAL_FORMS: Record<string, RegExp> = {
  'xsd:boolean': /^(true|false|1|0)$/,
  'xsd:long': /^[+-]?\d+$/,
  'xsd:int': /^[+-]?\d+$/,
  'xsd:dateTime': DATE_TIME,
};

/**
 * Checks a PROV-JSON document against the structure of the W3C Member
 * Submission (2013): top-level keys are `prefix` or record kinds; ids and
 * attribute names are qualified names with declared prefixes (`prov`, `xsd`
 * and blank `_` are predefined); relations carry the attributes the
 * submission requires and refer to records declared with the right kind;
 * typed literals are {"$", "type"} (or {"$", "lang"}). Returns every problem.
 */
export function provJsonProblems(document: unknown): string[] {
  const problems: string[] = [];
  if (!isObject(document)) return ['the document is not a JSON object'];
  const prefixes = new Set(['prov', 'xsd', '_']);
  if (document['prefix'] !== undefined) {
    if (!isObject(document['prefix'])) problems.push('prefix is not an object');
    else {
      for (const [name, iri] of Object.entries(document['prefix'])) {
        if (prefixes.has(name)) problems.push(`prefix ${name} is predefined`);
        if (typeof iri !== 'string' || !/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(iri)) problems.push(`prefix ${name} is not an IRI`);
        prefixes.add(name);
      }
    }
  }
  const qualifiedName = (value: unknown, where: string) => {
    const match = typeof value === 'string' ? /^([A-Za-z_][A-Za-z0-9_.-]*|_):(.+)$/.exec(value) : null;
    if (!match) problems.push(`${where}: ${JSON.stringify(value)} is not a qualified name`);
    else if (!prefixes.has(match[1]!)) problems.push(`${where}: prefix ${match[1]} is not declared`);
  };
  const checkValue = (value: unknown, where: string): void => {
    if (Array.isArray(value)) return value.forEach((item, i) => checkValue(item, `${where}[${i}]`));
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return;
    if (!isObject(value) || typeof value['$'] !== 'string') return void problems.push(`${where}: not a literal`);
    const keys = Object.keys(value).sort().join(',');
    if (keys === '$,lang') return;
    if (keys !== '$,type') return void problems.push(`${where}: a typed literal has exactly "$" and "type"`);
    qualifiedName(value['type'], `${where} type`);
    if (value['type'] === 'xsd:QName' || value['type'] === 'prov:QUALIFIED_NAME') qualifiedName(value['$'], where);
    const form = LITERAL_FORMS[value['type'] as string];
    if (form && !form.test(value['$'])) problems.push(`${where}: ${value['$']} is not a valid ${value['type']}`);
  };

  const declared = new Map<string, Set<string>>();
  for (const [kind, records] of Object.entries(document)) {
    if (kind === 'prefix') continue;
    if (!RECORD_KINDS.has(kind)) {
      problems.push(`${kind} is not a PROV-JSON record kind`);
      continue;
    }
    if (!isObject(records)) {
      problems.push(`${kind} is not an object`);
      continue;
    }
    declared.set(kind, new Set(Object.keys(records)));
    for (const [id, attributes] of Object.entries(records)) {
      qualifiedName(id, `${kind} id`);
      if (!isObject(attributes)) {
        problems.push(`${kind} ${id} is not an object of attributes`);
        continue;
      }
      for (const [name, value] of Object.entries(attributes)) {
        qualifiedName(name, `${kind} ${id} attribute`);
        checkValue(value, `${kind} ${id} ${name}`);
        if (TIME_ATTRIBUTES.has(name) && !(typeof value === 'string' && DATE_TIME.test(value))) problems.push(`${kind} ${id} ${name} is not an xsd:dateTime`);
      }
    }
  }
  for (const [relation, roles] of Object.entries(RELATION_ROLES)) {
    const records = document[relation];
    if (!isObject(records)) continue;
    for (const [id, attributes] of Object.entries(records)) {
      for (const { attribute, kind, required } of roles) {
        const target = (attributes as Record<string, unknown>)[attribute];
        if (target === undefined) {
          if (required) problems.push(`${relation} ${id} lacks ${attribute}`);
        } else if (typeof target !== 'string' || !declared.get(kind)?.has(target)) {
          problems.push(`${relation} ${id} ${attribute} names ${JSON.stringify(target)}, which is no declared ${kind}`);
        }
      }
    }
  }
  return problems;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
