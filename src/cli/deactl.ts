/** `bin/deactl` (docs/deactl.md): see src/cli/deactl/main.ts. */
import { main } from './deactl/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`deactl: ${String(err)}\n`);
    process.exit(1);
  },
);
