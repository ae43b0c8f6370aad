// cbor-x catches this and decodes in JavaScript (see package.json).
throw new Error('cbor-extract is not installed here; cbor-x uses its JavaScript decoder.');
