"""From files to cleaned, segmented articles: `readers` (txt/html/jsonl/csv, decoding), `clean`
(scraped junk), `segment` (French sentences), `voice` (quotations and attributions), `lang`,
and `articles`, which strings them together."""
