import { join } from 'node:path';

/** The test certificate and key (README.md beside this file): never used outside tests. */
export const TEST_CERT_FILE = join(import.meta.dirname, 'test-cert.pem');
export const TEST_KEY_FILE = join(import.meta.dirname, 'test-key.pem');
