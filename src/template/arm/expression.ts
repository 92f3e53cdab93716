/** The ARM template expression language's syntax: a tokenizer and a recursive-descent parser into a small tree. */

export type Expr =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'call'; name: string; args: Expr[]; at: number }
  | { kind: 'property'; target: Expr; name: string; at: number }
  | { kind: 'index'; target: Expr; index: Expr; at: number };

/** A syntax or evaluation problem; `at` is the character offset in the expression text, when known. */
export class ArmExpressionError extends Error {
  override name = 'ArmExpressionError';
  readonly at: number | undefined;
  constructor(message: string, at?: number) {
    super(message);
    this.at = at;
  }
}

type Token =
  | { type: '(' | ')' | '[' | ']' | ',' | '.'; at: number }
  | { type: 'string'; value: string; at: number }
  | { type: 'number'; value: number; at: number }
  | { type: 'name'; value: string; at: number }
  | { type: 'end'; at: number };

const MAX_NESTING = 64;
const PUNCTUATION = new Set(['(', ')', '[', ']', ',', '.']);

/** Splits expression text into tokens; `'` strings escape a quote by doubling it, as ARM does. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? '';
    if (/\s/.test(c)) {
      i++;
    } else if (PUNCTUATION.has(c)) {
      tokens.push({ type: c as '(' | ')' | '[' | ']' | ',' | '.', at: i });
      i++;
    } else if (c === "'") {
      const start = i;
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new ArmExpressionError('a string is not closed (a quote inside a string is written twice: \'\')', start);
        const ch = text[i] ?? '';
        if (ch === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += ch;
        i++;
      }
      tokens.push({ type: 'string', value, at: start });
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?\d+(?:\.\d+)?/.exec(text.slice(i));
      if (!m) throw new ArmExpressionError(`unexpected "${c}"`, i);
      tokens.push({ type: 'number', value: Number(m[0]), at: i });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i)) ?? [''];
      tokens.push({ type: 'name', value: m[0], at: i });
      i += m[0].length;
    } else {
      throw new ArmExpressionError(`unexpected "${c}"`, i);
    }
  }
  tokens.push({ type: 'end', at: text.length });
  return tokens;
}

/** Parses the text between an expression's outer brackets, e.g. `concat(parameters('a'), '-x')[0]`. */
export function parseExpression(text: string): Expr {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = (): Token => tokens[pos] ?? { type: 'end', at: text.length };
  const next = (): Token => tokens[pos++] ?? { type: 'end', at: text.length };
  const describeToken = (t: Token): string => (t.type === 'end' ? 'the end' : 'value' in t ? JSON.stringify(t.value) : `"${t.type}"`);
  const expect = (type: Token['type'], what: string): Token => {
    const t = next();
    if (t.type !== type) throw new ArmExpressionError(`expected ${what}, found ${describeToken(t)}`, t.at);
    return t;
  };

  let depth = 0;
  function primary(): Expr {
    const t = next();
    if (t.type === 'string') return { kind: 'string', value: t.value };
    if (t.type === 'number') return { kind: 'number', value: t.value };
    if (t.type !== 'name') throw new ArmExpressionError(`expected a function call, a 'string' or a number, found ${describeToken(t)}`, t.at);
    expect('(', `"(" after ${t.value}`);
    const args: Expr[] = [];
    // Nesting is bounded so a hostile expression is an error, not a stack overflow.
    if (++depth > MAX_NESTING) throw new ArmExpressionError(`calls nest deeper than ${MAX_NESTING} levels`, t.at);
    if (peek().type !== ')') {
      for (;;) {
        args.push(postfix());
        if (peek().type !== ',') break;
        next();
      }
    }
    expect(')', `"," or ")" in the arguments of ${t.value}()`);
    depth--;
    return { kind: 'call', name: t.value, args, at: t.at };
  }

  function postfix(): Expr {
    let expr = primary();
    for (;;) {
      const t = peek();
      if (t.type === '.') {
        next();
        const name = expect('name', 'a property name after "."') as { value: string };
        expr = { kind: 'property', target: expr, name: name.value, at: t.at };
      } else if (t.type === '[') {
        next();
        if (++depth > MAX_NESTING) throw new ArmExpressionError(`indexes nest deeper than ${MAX_NESTING} levels`, t.at);
        const index = postfix();
        expect(']', '"]"');
        depth--;
        expr = { kind: 'index', target: expr, index, at: t.at };
      } else {
        return expr;
      }
    }
  }

  const expr = postfix();
  const rest = peek();
  if (rest.type !== 'end') throw new ArmExpressionError(`unexpected ${describeToken(rest)} after the expression`, rest.at);
  return expr;
}

/** What a JSON string is in an ARM template: a literal, or an expression (the text inside its brackets). */
export function classify(value: string): { literal: string } | { expression: string } {
  if (value.startsWith('[[')) return { literal: value.slice(1) };
  if (value.startsWith('[') && value.endsWith(']')) return { expression: value.slice(1, -1) };
  return { literal: value };
}
