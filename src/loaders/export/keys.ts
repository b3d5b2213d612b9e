/**
 * Sample keys for tar shards: the id rule and the injective id → key mapping of the run folder
 * (src/run/ids.ts). A clip id is its own key; any other string is escaped into a key that starts
 * with "_" (which no id does) and carries a hash of the original.
 */
export { shardKey as sanitizeKey, isShardKey as isSafeKey } from '../../run/ids.js';
