// A decode step of a Llama-3-8B-style layer over a paged KV cache, as
// vLLM-like servers keep it: each sequence's keys and values live in pages
// of a shared pool ([pages, page_size, kv_heads, d]) named by a page table
// (FlashAttention's block_table and cache_seqlens, or FlashInfer's
// kv_indptr / kv_indices / kv_last_page_len; docs/serving.md). Each
// sequence's new query attends to all of its cached keys: causal,
// bottom-right, per sequence.
//
//   attnc run examples/llama3-8b-paged-decode.mlir --seqlens 17,300,0,4096 \
//       --page-size 16 --kv-dtype bf16
attn.kernel @llama3_8b_paged_decode attributes {
  q_heads = 32, kv_heads = 8, d_qk = 128, element_type = f32,
  mask = #attn.mask<causal, bottom_right>,
  layout = #attn.layout<paged>,
  mode = #attn.mode<decode>,
  lse = true
}
