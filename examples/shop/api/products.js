export const products = [
  { id: 1, name: "Canvas sail", price: 129 },
  { id: 2, name: "Oar", price: 45 },
];
