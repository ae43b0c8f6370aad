/** Node's way in to identity: the key kept in a file of a data directory. */
export { IdentityError, KEY_FILE, loadOrCreateKey } from './key-file.ts';
