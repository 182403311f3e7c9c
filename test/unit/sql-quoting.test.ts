import { quoteIdent, quoteLiteral } from '../../lambdas/shared/db';

describe('SQL quoting', () => {
  it('double-quotes an identifier and doubles its double quotes', () => {
    expect(quoteIdent('orders')).toBe('"orders"');
    expect(quoteIdent('Weird "name" é')).toBe('"Weird ""name"" é"');
  });

  it("single-quotes a literal, doubles its single quotes and leaves backslashes as they are (no E'')", () => {
    expect(quoteLiteral('en_US.UTF-8')).toBe("'en_US.UTF-8'");
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral('a\\b')).toBe("'a\\b'");
  });
});
