/**
 * Where a clip's bytes are: a media file, or a member of a tar read in place (a WebDataset shard
 * from a downloader such as video2dataset, never extracted). Every place that hands a clip's source
 * to ffmpeg or ffprobe goes through `ffmpegInput`, and every place that needs the file on disk
 * through `sourceFile`, so a tar member is decoded exactly like a file.
 *
 * A tar member's source is one string (the manifest's `source` field):
 *
 *     <tar path>#<member name, URI-encoded>@<byte offset of its data>+<its length in bytes>
 *     /data/pool/000003.tar#000003017.mp4@1536+2048000
 *
 * The member name is encoded with encodeURIComponent, so it holds no "#", "/", "@" or "+", and the
 * suffix after the last "#" is unambiguous; the tar path must end in ".tar". ffmpeg reads such a
 * member through its `subfile` protocol (`subfile,,start,<offset>,end,<offset+length>,,:file:<tar>`),
 * which seeks inside the byte range as in a file of its own (see docs/scale.md, "WebDataset pools").
 */
import path from 'node:path';

export interface TarMemberSource {
  /** The tar file (as written in the source: absolute once ingested). */
  tar: string;
  /** The member's name inside the tar. */
  member: string;
  /** Byte offset of the member's data in the tar. */
  offset: number;
  /** Length of the member's data in bytes. */
  size: number;
}

const MEMBER_SOURCE = /^(.+\.tar)#([^#/@+]+)@(\d{1,16})\+(\d{1,16})$/is;

/** The source string of a tar member (see the module comment). */
export function tarMemberSource(tar: string, member: string, offset: number, size: number): string {
  if (!/\.tar$/i.test(tar)) throw new Error(`${tar}: a tar member's source needs a tar path ending in .tar`);
  if (!(Number.isSafeInteger(offset) && offset >= 0 && Number.isSafeInteger(size) && size > 0)) throw new Error(`${tar}: member ${member}: bad byte range offset=${offset} size=${size}`);
  return `${tar}#${encodeURIComponent(member)}@${offset}+${size}`;
}

/** The tar member a source names, or null for a plain file. */
export function parseTarMemberSource(source: string): TarMemberSource | null {
  const m = MEMBER_SOURCE.exec(source);
  if (!m) return null;
  let member: string;
  try {
    member = decodeURIComponent(m[2]);
  } catch {
    return null;
  }
  const offset = Number(m[3]);
  const size = Number(m[4]);
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(offset + size) || size <= 0) return null;
  return { tar: m[1], member, offset, size };
}

/** The file on disk that holds a source's bytes (the tar of a member, else the source itself). */
export function sourceFile(source: string): string {
  return parseTarMemberSource(source)?.tar ?? source;
}

/**
 * The input argument ffmpeg and ffprobe get for a source: `file:<path>` for a file (so names that
 * look like options or protocols are read as files), and the `subfile` protocol over the member's
 * byte range for a tar member. The bundled 2018 ffmpeg, its ffprobe, and Debian 12's ffmpeg and
 * ffprobe 5.1 all have the subfile protocol: test/media/source.test.ts checks every tool it finds,
 * and it and the tar-pool tests pass with either (AVCURATE_FFMPEG / AVCURATE_FFPROBE pick one).
 */
export function ffmpegInput(source: string): string {
  const m = parseTarMemberSource(source);
  if (!m) return `file:${source}`;
  // subfile's "end" is exclusive; an end of 0 would mean "to the end of the file", which a
  // member never asks for (its size is > 0). The path after ",,:" is opened as a nested URL.
  return `subfile,,start,${m.offset},end,${m.offset + m.size},,:file:${m.tar}`;
}

/** A short name of a source for messages: the file name, or "<tar name>#<member>". */
export function sourceLabel(source: string): string {
  const m = parseTarMemberSource(source);
  return m ? `${path.basename(m.tar)}#${m.member}` : path.basename(source);
}
