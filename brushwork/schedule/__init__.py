"""The coarse-to-fine schedule that painting and training share: passes, budgets, tiles, slot allotment
(`tiles`), and the colour fit (`color_fit`).  It sits below both agent/ and painter/: training plans
what `paint()` will do with the same functions."""
