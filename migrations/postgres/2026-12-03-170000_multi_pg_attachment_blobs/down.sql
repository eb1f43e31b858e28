DROP TABLE attachment_blobs;
