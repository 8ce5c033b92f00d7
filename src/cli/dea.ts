import { ConfigError } from '../errors.js';
import { main } from '../main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`dea: ${String(err)}\n`);
    process.exit(1);
  },
);
