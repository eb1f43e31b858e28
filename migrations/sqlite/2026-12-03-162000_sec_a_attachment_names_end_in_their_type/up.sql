-- An attachment's name ends in its type's extension (issue 20, finding 10): names stored
-- before get the extension added, as uploads now do (invoice.html holding a PDF becomes
-- invoice.html.pdf).
UPDATE attachments SET file_name = file_name || '.pdf'
WHERE content_type = 'application/pdf' AND NOT lower(file_name) LIKE '_%.pdf';
UPDATE attachments SET file_name = file_name || '.jpg'
WHERE content_type = 'image/jpeg'
  AND NOT (lower(file_name) LIKE '_%.jpg' OR lower(file_name) LIKE '_%.jpeg');
UPDATE attachments SET file_name = file_name || '.png'
WHERE content_type = 'image/png' AND NOT lower(file_name) LIKE '_%.png';
