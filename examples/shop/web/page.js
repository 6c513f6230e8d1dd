const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderPage(greeting, products) {
  const items = products
    .map((p) => `<li>${escape(p.name)}: ${escape(p.price)} €</li>`)
    .join("");
  return `<!doctype html><title>Shop</title><h1>${escape(greeting)}</h1><ul>${items}</ul>\n`;
}
