// Parses Bicep files with the tree-sitter-bicep grammar (WASM, through web-tree-sitter) and prints one JSON line:
// per file, the declarations found and every syntax error (line, column, text). Exit code 0 either way; the test
// reads the JSON. Usage: node infra/tests/parse-bicep.mjs FILE...
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(new URL('../../eng/package.json', import.meta.url));
const Parser = require('web-tree-sitter');
await Parser.init();
const Bicep = await Parser.Language.load(require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm'));
const parser = new Parser();
parser.setLanguage(Bicep);
const result = {};
for (const file of process.argv.slice(2)) {
  const tree = parser.parse(readFileSync(file, 'utf8'));
  const errors = [];
  const declarations = [];
  const walk = (node) => {
    if (node.type === 'ERROR' || node.isMissing) {
      errors.push({ line: node.startPosition.row + 1, column: node.startPosition.column + 1, text: node.text.slice(0, 80) });
    }
    if (node.parent?.type === 'infrastructure' && node.type.endsWith('_declaration')) {
      declarations.push(`${node.type.replace('_declaration', '')} ${node.namedChildren[0]?.text ?? ''}`);
    }
    for (const child of node.children) walk(child);
  };
  walk(tree.rootNode);
  result[file] = { errors, declarations };
}
console.log(JSON.stringify(result));
