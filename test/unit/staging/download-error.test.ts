import { describe, expect, it } from 'vitest';
import { scrubUri } from '../../../src/staging/download-error.js';

describe('scrubUri', () => {
  it('hides credentials and drops query and fragment', () => {
    expect(scrubUri('https://user:pass@blobs.example.com/droplets/x.tgz?X-Amz-Signature=abc#frag')).toBe('https://***@blobs.example.com/droplets/x.tgz');
    expect(scrubUri('http://host:8080/a')).toBe('http://host:8080/a');
    expect(scrubUri('file:///var/d.tgz')).toBe('file:///var/d.tgz');
    expect(scrubUri('::not a uri')).toBe('<invalid uri>');
  });
});
