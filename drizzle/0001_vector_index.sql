-- Custom migration: drizzle-kit cannot express sqlite-vec virtual tables.
CREATE VIRTUAL TABLE chunk_embeddings USING vec0(chunk_id integer primary key, embedding float[384]);
