"""R's formula language: parsing, terms(), evaluation on data, contrasts, the bar terms of a mixed formula."""
