const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderPage(greeting, products) {
  const items = products
    .map((p) => `<li>${escapeHtml(p.name)}: ${escapeHtml(p.price)} €</li>`)
    .join("");
  return `<!doctype html><title>Shop</title><h1>${escapeHtml(greeting)}</h1><ul>${items}</ul>\n`;
}
