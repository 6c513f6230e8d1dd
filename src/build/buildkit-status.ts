import { fieldText, type ProtoField, readFields } from "./protobuf.js";

/**
 * BuildKit's progress as the Engine API streams it with `POST /build?version=2`:
 * each `{"id":"moby.buildkit.trace","aux":"<base64>"}` line holds one
 * `moby.buildkit.v1.StatusResponse`. Field numbers are those of
 * moby/buildkit api/services/control/control.proto:
 *
 *   StatusResponse { repeated Vertex vertexes = 1; repeated VertexStatus statuses = 2;
 *                    repeated VertexLog logs = 3; repeated VertexWarning warnings = 4; }
 *   Vertex         { digest = 1; repeated inputs = 2; name = 3; bool cached = 4;
 *                    Timestamp started = 5; Timestamp completed = 6; string error = 7; }
 *   VertexStatus   { ID = 1; vertex = 2; name = 3; int64 current = 4; int64 total = 5;
 *                    Timestamp timestamp = 6; started = 7; completed = 8; }
 *   VertexLog      { vertex = 1; Timestamp timestamp = 2; int64 stream = 3; bytes msg = 4; }
 *   VertexWarning  { vertex = 1; int64 level = 2; bytes short = 3; repeated bytes detail = 4; url = 5; }
 *   google.protobuf.Timestamp { int64 seconds = 1; int32 nanos = 2; }
 *
 * A vertex is sent again each time it changes (declared, started, completed),
 * every time with all of its fields.
 */

/** One node of the build graph: a Dockerfile step or an internal operation. */
export interface VertexUpdate {
  digest: string;
  inputs: string[];
  name: string;
  cached: boolean;
  /** ms since the epoch */
  started?: number;
  completed?: number;
  error?: string;
}

/** Progress of a sub-task of a vertex (a layer pull, "exporting layers"). */
export interface VertexStatusUpdate {
  id: string;
  vertex: string;
  name: string;
  current: number;
  total: number;
  timestamp?: number;
  started?: number;
  completed?: number;
}

/** Output of a vertex: stream 1 is stdout, 2 stderr. */
export interface VertexLogUpdate {
  vertex: string;
  timestamp?: number;
  stream: number;
  msg: Uint8Array;
}

export interface VertexWarningUpdate {
  vertex: string;
  level: number;
  short: string;
  detail: string[];
  url: string;
}

export interface StatusResponse {
  vertexes: VertexUpdate[];
  statuses: VertexStatusUpdate[];
  logs: VertexLogUpdate[];
  warnings: VertexWarningUpdate[];
}

/** Decodes one StatusResponse; throws ProtobufError for malformed bytes. */
export function decodeStatusResponse(bytes: Uint8Array): StatusResponse {
  const status: StatusResponse = { vertexes: [], statuses: [], logs: [], warnings: [] };
  for (const field of readFields(bytes)) {
    if (field.wireType !== 2) continue;
    switch (field.number) {
      case 1:
        status.vertexes.push(decodeVertex(field.bytes));
        break;
      case 2:
        status.statuses.push(decodeVertexStatus(field.bytes));
        break;
      case 3:
        status.logs.push(decodeVertexLog(field.bytes));
        break;
      case 4:
        status.warnings.push(decodeVertexWarning(field.bytes));
        break;
    }
  }
  return status;
}

/** Decodes the `aux` of a `moby.buildkit.trace` message (base64 of a StatusResponse). */
export function decodeTraceAux(aux: string): StatusResponse {
  return decodeStatusResponse(Buffer.from(aux, "base64"));
}

function decodeVertex(bytes: Uint8Array): VertexUpdate {
  const vertex: VertexUpdate = { digest: "", inputs: [], name: "", cached: false };
  for (const field of readFields(bytes)) {
    switch (field.number) {
      case 1:
        vertex.digest = fieldText(field);
        break;
      case 2:
        vertex.inputs.push(fieldText(field));
        break;
      case 3:
        vertex.name = fieldText(field);
        break;
      case 4:
        vertex.cached = varint(field) !== 0;
        break;
      case 5:
        setTime(vertex, "started", timestamp(field));
        break;
      case 6:
        setTime(vertex, "completed", timestamp(field));
        break;
      case 7:
        if (fieldText(field)) vertex.error = fieldText(field);
        break;
    }
  }
  return vertex;
}

function decodeVertexStatus(bytes: Uint8Array): VertexStatusUpdate {
  const status: VertexStatusUpdate = { id: "", vertex: "", name: "", current: 0, total: 0 };
  for (const field of readFields(bytes)) {
    switch (field.number) {
      case 1:
        status.id = fieldText(field);
        break;
      case 2:
        status.vertex = fieldText(field);
        break;
      case 3:
        status.name = fieldText(field);
        break;
      case 4:
        status.current = varint(field);
        break;
      case 5:
        status.total = varint(field);
        break;
      case 6:
        setTime(status, "timestamp", timestamp(field));
        break;
      case 7:
        setTime(status, "started", timestamp(field));
        break;
      case 8:
        setTime(status, "completed", timestamp(field));
        break;
    }
  }
  return status;
}

function decodeVertexLog(bytes: Uint8Array): VertexLogUpdate {
  const log: VertexLogUpdate = { vertex: "", stream: 0, msg: new Uint8Array() };
  for (const field of readFields(bytes)) {
    switch (field.number) {
      case 1:
        log.vertex = fieldText(field);
        break;
      case 2:
        setTime(log, "timestamp", timestamp(field));
        break;
      case 3:
        log.stream = varint(field);
        break;
      case 4:
        if (field.wireType === 2) log.msg = field.bytes;
        break;
    }
  }
  return log;
}

function decodeVertexWarning(bytes: Uint8Array): VertexWarningUpdate {
  const warning: VertexWarningUpdate = { vertex: "", level: 0, short: "", detail: [], url: "" };
  for (const field of readFields(bytes)) {
    switch (field.number) {
      case 1:
        warning.vertex = fieldText(field);
        break;
      case 2:
        warning.level = varint(field);
        break;
      case 3:
        warning.short = fieldText(field);
        break;
      case 4:
        warning.detail.push(fieldText(field));
        break;
      case 5:
        warning.url = fieldText(field);
        break;
    }
  }
  return warning;
}

function varint(field: ProtoField): number {
  return field.wireType === 0 ? field.varint : 0;
}

/** google.protobuf.Timestamp as ms since the epoch (sub-millisecond nanos dropped). */
function timestamp(field: ProtoField): number | undefined {
  if (field.wireType !== 2) return undefined;
  let seconds = 0;
  let nanos = 0;
  for (const part of readFields(field.bytes)) {
    if (part.number === 1) seconds = varint(part);
    if (part.number === 2) nanos = varint(part);
  }
  return seconds * 1000 + Math.floor(nanos / 1_000_000);
}

function setTime<K extends string>(
  target: { [key in K]?: number },
  key: K,
  value: number | undefined,
): void {
  if (value !== undefined) target[key] = value;
}
