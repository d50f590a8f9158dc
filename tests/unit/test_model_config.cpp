// Tests of config.json parsing and analytic parameter counts, against the real Hugging Face
// configs in shared/testdata and the safetensors totals their publishers report.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <set>
#include <string>

#include "../support/test_env.hpp"
#include "omed/common/json.hpp"
#include "omed/model/config_parser.hpp"
#include "omed/model/parameter_count.hpp"

using namespace omed;
using model::CountSource;
using model::ModelFacts;
using omed::testing::have_shared;
using omed::testing::read_file;
using omed::testing::shared_dir;

namespace {

const char* kConfigs = "testdata/hf-configs";

std::string config_text(const std::string& name) { return read_file(shared_dir() / kConfigs / name); }

ModelFacts facts_of(const std::string& name) {
  ModelFacts f;
  std::string err;
  INFO(name);
  REQUIRE(model::parse_model_config(config_text(name), f, err));
  CHECK(err.empty());
  return f;
}

model::ParameterEstimate count_json(const std::string& text) {
  json::ParseOptions o;
  o.allow_nan_inf = true;
  return model::count_parameters(json::parse(text, o));
}

bool has_cap(const ModelFacts& f, const std::string& cap) {
  return std::find(f.capabilities.begin(), f.capabilities.end(), cap) != f.capabilities.end();
}

bool within(uint64_t got, double published, double tolerance) {
  return std::abs(static_cast<double>(got) - published) <= tolerance * published;
}

}  // namespace

TEST_CASE("every shared Hugging Face config parses into facts with a parameter count", "[model-config]") {
  if (!have_shared(kConfigs))
    return;
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(shared_dir() / kConfigs)) {
    if (entry.path().extension() != ".json")
      continue;
    ++n;
    std::string name = entry.path().filename().string();
    INFO(name);
    ModelFacts f;
    std::string err;
    REQUIRE(model::parse_model_config(read_file(entry.path()), f, err));
    CHECK_FALSE(f.capabilities.empty());
    if (name == "config_sentence_transformers.json") {
      CHECK(f.framework == "sentence-transformers");
      CHECK(f.capabilities == std::vector<std::string>{"EMBEDDING"});
      continue;
    }
    CHECK_FALSE(f.model_type.empty());
    CHECK(f.framework == "transformers");
    REQUIRE(f.parameter_count);
    CHECK(*f.parameter_count > 10'000'000);
    CHECK(f.parameter_source != CountSource::None);
    if (name != "clip_vision_model.json")  // an image encoder has no token context
      CHECK(f.context_length);
    if (name != "llava_1.5_7b_hf.json")  // its text_config relies on LlamaConfig's defaults
      CHECK(f.hidden_size);
    // The facts serialize to the inspect-model shape.
    json::Value j = model::facts_to_json(f);
    CHECK(j["parameterCount"].as_int() == static_cast<int64_t>(*f.parameter_count));
  }
  CHECK(n >= 49);
}

TEST_CASE("dense decoders count to the parameter", "[model-config]") {
  if (!have_shared(kConfigs))
    return;
  // Totals as the publishers' safetensors report them (Hugging Face "Model size", exact).
  struct Case {
    const char* file;
    uint64_t params;
  };
  const Case cases[] = {
    {"llama3.json", 70'553'706'496},           // Meta-Llama-3-70B
    {"llama3_1.json", 70'553'706'496},         // Llama-3.1-70B: same shapes, longer rope
    {"llama3_2_3b.json", 3'212'749'824},       // Llama-3.2-3B, tied embeddings
    {"qwen2.5_0.5b.json", 494'032'768},        // q/k/v biases, tied
    {"qwen2.5_1.5b.json", 1'543'714'304},
    {"qwen2.5_3b.json", 3'085'938'688},
    {"qwen2.5_7b.json", 7'615'616'512},
    {"qwen2.5_32b.json", 32'763'876'352},
    {"qwen2_7b.json", 7'615'616'512},
    {"mistral.json", 7'241'732'096},           // Mistral-7B
    {"gemma_7b.json", 8'537'680'896},          // head_dim 256 != hidden/heads
    {"gemma_2_2b.json", 2'614'341'888},        // four norms per layer
    {"gemma_2_2b_it.json", 2'614'341'888},
    {"gemma3_text.json", 999'885'952},         // Gemma-3-1B: q/k norms
    {"qwen3_8b_fp8.json", 8'190'735'360},      // Qwen3-8B (logical weights of the FP8 release)
    {"qwen_7b.json", 7'721'324'544},           // Qwen-7B (v1): fused c_attn with bias
    {"chatglm3_6b.json", 6'243'584'000},       // ChatGLM3-6B: multi-query groups, qkv bias
    {"stablelm_3b.json", 2'795'443'200},       // StableLM-3B-4E1T: LayerNorm with bias
    {"phi3small.json", 7'392'272'384},         // Phi-3-small: biased LayerNorm/linear, tied
    {"bge_large.json", 335'141'888},           // BERT-large encoder with pooler
    {"e5_mistral_7b.json", 7'110'660'096},     // MistralModel: no LM head stored
  };
  for (const auto& c : cases) {
    INFO(c.file);
    ModelFacts f = facts_of(c.file);
    REQUIRE(f.parameter_count);
    CHECK(*f.parameter_count == c.params);
    CHECK(f.parameter_source == CountSource::Formula);
    CHECK(f.parameter_count_exact());
  }
  // Families without a published exact total: the formula is the Llama one on their names.
  CHECK(*facts_of("xverse_7b.json").parameter_count == 7'299'846'144);
  CHECK(*facts_of("minicpm3_4b.json").parameter_count == 4'073'875'968);  // MLA, tied: "4.07B"
  CHECK(within(*facts_of("command_r_35b.json").parameter_count, 35e9, 0.01));  // Command-R "35B"
  CHECK(*facts_of("command_r_35b.json").parameter_count == 34'980'831'232);
}

TEST_CASE("a real safetensors checkpoint sums to the formula", "[model-config]") {
  if (!have_shared("testdata/tiny-random-phi"))
    return;
  auto dir = shared_dir() / "testdata/tiny-random-phi";
  // Sum the tensors the shard headers declare (both shards of this fixture repeat the set).
  std::set<std::string> seen;
  uint64_t total = 0;
  for (const char* shard : {"model-1-of-2.safetensors", "model-2-of-2.safetensors"}) {
    std::string bytes = read_file(dir / shard);
    REQUIRE(bytes.size() > 8);
    uint64_t len = 0;
    for (int i = 7; i >= 0; --i)
      len = (len << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
    REQUIRE(len + 8 <= bytes.size());
    json::Value header = json::parse(std::string_view(bytes).substr(8, len));
    for (const auto& [name, t] : header.as_object()) {
      if (name == "__metadata__" || !seen.insert(name).second)
        continue;
      uint64_t n = 1;
      for (const auto& d : t.get("shape")->as_array())
        n *= static_cast<uint64_t>(d.as_int());
      total += n;
    }
  }
  ModelFacts f;
  std::string err;
  REQUIRE(model::parse_model_config(read_file(dir / "config.json"), f, err));
  CHECK(total == 46'282);
  CHECK(f.parameter_count == total);  // PhiModel: LayerNorms with bias, biased linears, no head
  CHECK(f.parameter_source == CountSource::Formula);
}

TEST_CASE("MoE and multimodal configs match published totals", "[model-config]") {
  if (!have_shared(kConfigs))
    return;
  struct Case {
    const char* file;
    double published;
    bool exact;  // our formula reproduces the published figure to the parameter
  };
  const Case cases[] = {
    {"gpt_oss_20b.json", 20'914'757'184, true},              // OpenAI: 20.91B total
    {"phimoe.json", 41'873'153'344, true},                   // Phi-3.5-MoE: 41.9B
    {"llama4.json", 401'583'781'376, true},                  // Llama-4-Maverick-17B-128E: 402B
    {"llava_1.5_7b_hf.json", 7'063'427'072, true},           // llava-1.5-7b-hf
    {"phi3_v.json", 4'146'621'440, true},                    // Phi-3-vision-128k-instruct
    {"llama3_2_11b_vision.json", 10'670'220'835, true},      // Llama-3.2-11B-Vision
    {"gemma3.json", 27'432'406'640, true},                   // gemma-3-27b-it
    {"qwen2_vl_2b.json", 2'208'985'600, true},               // Qwen2-VL-2B-Instruct
    {"qwen2_vl_7b.json", 8'291'375'616, true},               // Qwen2-VL-7B-Instruct
    {"qwen2.5_vl_7b.json", 8'292'166'656, true},             // Qwen2.5-VL-7B-Instruct
    {"qwen3_vl_2b_instruct.json", 2'127'532'032, true},      // Qwen3-VL-2B-Instruct
    {"qwen3_vl_30b_a3b_instruct.json", 31'070'754'032, true},  // Qwen3-VL-30B-A3B-Instruct
    {"llama3_2_90b_vision.json", 88.6e9, false},             // Llama-3.2-90B-Vision: 88.6B
    {"deepseek_vl2_tiny.json", 3.37e9, false},               // DeepSeek-VL2-Tiny: 3.37B total
    {"janus_1.3b.json", 2.09e9, false},                      // Janus-1.3B: 2.09B
    {"skywork_reward_llama.json", 7.5e9, false},             // Skywork-Reward-Llama-3.1-8B: 7.5B
  };
  for (const auto& c : cases) {
    INFO(c.file);
    ModelFacts f = facts_of(c.file);
    REQUIRE(f.parameter_count);
    CHECK(within(*f.parameter_count, c.published, 0.01));
    if (c.exact)
      CHECK(static_cast<double>(*f.parameter_count) == c.published);
  }
  // The vision-language models whose towers the config only names are labelled estimates.
  CHECK(facts_of("deepseek_vl2_tiny.json").parameter_source == CountSource::Estimate);
  CHECK(facts_of("janus_1.3b.json").parameter_source == CountSource::Estimate);
  // Original LLaVA checkpoints do not store the CLIP tower they name.
  ModelFacts llava = facts_of("llava_v1.5_7b.json");
  CHECK(llava.parameter_count == 6'738'415'616 + 20'979'712);  // Llama-2-7B + 2-layer projector
  CHECK(llava.parameter_source == CountSource::Estimate);
  // Qwen3.5 configs here leave out the linear-attention layout: an estimate that says so.
  for (const char* f : {"qwen3_5_27b.json", "qwen3_5_35b_a3b.json"}) {
    ModelFacts q = facts_of(f);
    CHECK(q.parameter_source == CountSource::Estimate);
    bool said = false;
    for (const auto& n : q.notes)
      said = said || n.find("linear-attention") != std::string::npos;
    CHECK(said);
  }
}

TEST_CASE("published totals of families the shared configs lack", "[model-config]") {
  struct Case {
    const char* name;
    const char* config;
    double published;
    bool exact;
  };
  const Case cases[] = {
    {"Llama-3.1-8B",
     R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":128256,"hidden_size":4096,
         "num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"intermediate_size":14336,
         "tie_word_embeddings":false})",
     8'030'261'248, true},
    {"Llama-3.2-1B",
     R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":128256,"hidden_size":2048,
         "num_hidden_layers":16,"num_attention_heads":32,"num_key_value_heads":8,"head_dim":64,
         "intermediate_size":8192,"tie_word_embeddings":true})",
     1'235'814'400, true},
    {"Llama-2-13B",
     R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":32000,"hidden_size":5120,
         "num_hidden_layers":40,"num_attention_heads":40,"intermediate_size":13824})",
     13'015'864'320, true},
    {"Mistral-Nemo-12B (head_dim 128 with hidden 5120 / 32 heads)",
     R"({"architectures":["MistralForCausalLM"],"model_type":"mistral","vocab_size":131072,"hidden_size":5120,
         "num_hidden_layers":40,"num_attention_heads":32,"num_key_value_heads":8,"head_dim":128,
         "intermediate_size":14336,"tie_word_embeddings":false})",
     12'247'782'400, true},
    {"Qwen3-0.6B",
     R"({"architectures":["Qwen3ForCausalLM"],"model_type":"qwen3","vocab_size":151936,"hidden_size":1024,
         "num_hidden_layers":28,"num_attention_heads":16,"num_key_value_heads":8,"head_dim":128,
         "intermediate_size":3072,"tie_word_embeddings":true})",
     596'049'920, true},
    {"Qwen3-32B",
     R"({"architectures":["Qwen3ForCausalLM"],"model_type":"qwen3","vocab_size":151936,"hidden_size":5120,
         "num_hidden_layers":64,"num_attention_heads":64,"num_key_value_heads":8,"head_dim":128,
         "intermediate_size":25600,"tie_word_embeddings":false})",
     32'762'123'264, true},
    {"SmolLM2-1.7B",
     R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":49152,"hidden_size":2048,
         "num_hidden_layers":24,"num_attention_heads":32,"num_key_value_heads":32,"intermediate_size":8192,
         "tie_word_embeddings":true})",
     1'711'376'384, true},
    {"Phi-3-mini",
     R"({"architectures":["Phi3ForCausalLM"],"model_type":"phi3","vocab_size":32064,"hidden_size":3072,
         "num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":32,"intermediate_size":8192,
         "tie_word_embeddings":false})",
     3'821'079'552, true},
    {"Phi-4",
     R"({"architectures":["Phi3ForCausalLM"],"model_type":"phi3","vocab_size":100352,"hidden_size":5120,
         "num_hidden_layers":40,"num_attention_heads":40,"num_key_value_heads":10,"intermediate_size":17920,
         "tie_word_embeddings":false})",
     14'659'507'200, true},
    {"Phi-2",
     R"({"architectures":["PhiForCausalLM"],"model_type":"phi","vocab_size":51200,"hidden_size":2560,
         "num_hidden_layers":32,"num_attention_heads":32,"intermediate_size":10240,"tie_word_embeddings":false})",
     2'779'683'840, true},
    {"Gemma-2-9B",
     R"({"architectures":["Gemma2ForCausalLM"],"model_type":"gemma2","vocab_size":256000,"hidden_size":3584,
         "num_hidden_layers":42,"num_attention_heads":16,"num_key_value_heads":8,"head_dim":256,
         "intermediate_size":14336})",
     9'241'705'984, true},
    {"Gemma-2-27B",
     R"({"architectures":["Gemma2ForCausalLM"],"model_type":"gemma2","vocab_size":256000,"hidden_size":4608,
         "num_hidden_layers":46,"num_attention_heads":32,"num_key_value_heads":16,"head_dim":128,
         "intermediate_size":36864})",
     27'227'128'320, true},
    {"Mixtral-8x7B",
     R"({"architectures":["MixtralForCausalLM"],"model_type":"mixtral","vocab_size":32000,"hidden_size":4096,
         "num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"intermediate_size":14336,
         "num_local_experts":8,"num_experts_per_tok":2,"tie_word_embeddings":false})",
     46'702'792'704, true},
    {"Qwen3-30B-A3B",
     R"({"architectures":["Qwen3MoeForCausalLM"],"model_type":"qwen3_moe","vocab_size":151936,"hidden_size":2048,
         "num_hidden_layers":48,"num_attention_heads":32,"num_key_value_heads":4,"head_dim":128,
         "intermediate_size":6144,"moe_intermediate_size":768,"num_experts":128,"num_experts_per_tok":8,
         "decoder_sparse_step":1,"mlp_only_layers":[],"tie_word_embeddings":false})",
     30'532'122'624, true},
    {"Qwen3-235B-A22B",
     R"({"architectures":["Qwen3MoeForCausalLM"],"model_type":"qwen3_moe","vocab_size":151936,"hidden_size":4096,
         "num_hidden_layers":94,"num_attention_heads":64,"num_key_value_heads":4,"head_dim":128,
         "intermediate_size":12288,"moe_intermediate_size":1536,"num_experts":128,"num_experts_per_tok":8,
         "tie_word_embeddings":false})",
     235'093'634'560, true},
    {"Qwen1.5-MoE-A2.7B (shared expert with gate)",
     R"({"architectures":["Qwen2MoeForCausalLM"],"model_type":"qwen2_moe","vocab_size":151936,"hidden_size":2048,
         "num_hidden_layers":24,"num_attention_heads":16,"num_key_value_heads":16,"intermediate_size":5632,
         "num_experts":60,"num_experts_per_tok":4,"moe_intermediate_size":1408,
         "shared_expert_intermediate_size":5632,"decoder_sparse_step":1,"tie_word_embeddings":false})",
     14'315'784'192, true},
    {"DeepSeek-V2-Lite (MLA without q compression)",
     R"({"architectures":["DeepseekV2ForCausalLM"],"model_type":"deepseek_v2","vocab_size":102400,
         "hidden_size":2048,"intermediate_size":10944,"moe_intermediate_size":1408,"num_hidden_layers":27,
         "num_attention_heads":16,"num_key_value_heads":16,"n_shared_experts":2,"n_routed_experts":64,
         "kv_lora_rank":512,"q_lora_rank":null,"qk_rope_head_dim":64,"v_head_dim":128,"qk_nope_head_dim":128,
         "topk_method":"greedy","num_experts_per_tok":6,"first_k_dense_replace":1,"tie_word_embeddings":false})",
     15'706'484'224, true},
    // DeepSeek-V3: 671B main model + 14B multi-token-prediction module; Hugging Face lists 685B
    // (the FP8 release adds ~0.04B of block scales, which a logical count does not include).
    {"DeepSeek-V3",
     R"({"architectures":["DeepseekV3ForCausalLM"],"model_type":"deepseek_v3","vocab_size":129280,
         "hidden_size":7168,"intermediate_size":18432,"moe_intermediate_size":2048,"num_hidden_layers":61,
         "num_nextn_predict_layers":1,"num_attention_heads":128,"num_key_value_heads":128,"n_shared_experts":1,
         "n_routed_experts":256,"kv_lora_rank":512,"q_lora_rank":1536,"qk_rope_head_dim":64,"v_head_dim":128,
         "qk_nope_head_dim":128,"topk_method":"noaux_tc","num_experts_per_tok":8,"moe_layer_freq":1,
         "first_k_dense_replace":3,"max_position_embeddings":163840,"tie_word_embeddings":false,
         "quantization_config":{"activation_scheme":"dynamic","fmt":"e4m3","quant_method":"fp8",
                                "weight_block_size":[128,128]}})",
     685e9, false},
    // Kimi-K2: DeepSeek-V3 layout with 384 experts and 64 heads; "1.03T" on Hugging Face.
    {"Kimi-K2",
     R"({"architectures":["DeepseekV3ForCausalLM"],"model_type":"kimi_k2","vocab_size":163840,
         "hidden_size":7168,"intermediate_size":18432,"moe_intermediate_size":2048,"num_hidden_layers":61,
         "num_nextn_predict_layers":0,"num_attention_heads":64,"num_key_value_heads":64,"n_shared_experts":1,
         "n_routed_experts":384,"kv_lora_rank":512,"q_lora_rank":1536,"qk_rope_head_dim":64,"v_head_dim":128,
         "qk_nope_head_dim":128,"topk_method":"noaux_tc","num_experts_per_tok":8,"first_k_dense_replace":1,
         "tie_word_embeddings":false})",
     1.03e12, false},
    {"DBRX (132B)",
     R"({"architectures":["DbrxForCausalLM"],"model_type":"dbrx","d_model":6144,"n_heads":48,"n_layers":40,
         "max_seq_len":32768,"vocab_size":100352,"attn_config":{"kv_n_heads":8,"clip_qkv":8},
         "ffn_config":{"ffn_hidden_size":10752,"moe_num_experts":16,"moe_top_k":4}})",
     132e9, false},
    {"Llama-4-Scout-17B-16E",
     R"({"architectures":["Llama4ForConditionalGeneration"],"model_type":"llama4","tie_word_embeddings":false,
         "text_config":{"model_type":"llama4_text","hidden_size":5120,"intermediate_size":8192,
           "intermediate_size_mlp":16384,"num_hidden_layers":48,"num_attention_heads":40,"num_key_value_heads":8,
           "head_dim":128,"num_local_experts":16,"num_experts_per_tok":1,"interleave_moe_layer_step":1,
           "vocab_size":202048},
         "vision_config":{"model_type":"llama4_vision_model","hidden_size":1408,"intermediate_size":5632,
           "num_hidden_layers":34,"image_size":336,"patch_size":14,"projector_input_dim":4096,
           "projector_output_dim":4096,"vision_output_dim":4096,"pixel_shuffle_ratio":0.5}})",
     108'641'793'536, true},
    {"Qwen2.5-VL-3B",
     R"({"architectures":["Qwen2_5_VLForConditionalGeneration"],"model_type":"qwen2_5_vl","vocab_size":151936,
         "hidden_size":2048,"intermediate_size":11008,"num_hidden_layers":36,"num_attention_heads":16,
         "num_key_value_heads":2,"tie_word_embeddings":true,
         "vision_config":{"depth":32,"hidden_size":1280,"intermediate_size":3420,"num_heads":16,"in_chans":3,
           "out_hidden_size":2048,"patch_size":14,"spatial_merge_size":2,"temporal_patch_size":2}})",
     3'754'622'976, true},
    {"CLIP ViT-L/14",
     R"({"architectures":["CLIPModel"],"model_type":"clip","projection_dim":768,
         "text_config":{"hidden_size":768,"intermediate_size":3072,"num_hidden_layers":12,
           "max_position_embeddings":77,"vocab_size":49408},
         "vision_config":{"hidden_size":1024,"intermediate_size":4096,"num_hidden_layers":24,"image_size":224,
           "patch_size":14}})",
     427'616'513, true},
    {"bge-m3 (XLM-RoBERTa encoder)",
     R"({"architectures":["XLMRobertaModel"],"model_type":"xlm-roberta","vocab_size":250002,"hidden_size":1024,
         "num_hidden_layers":24,"num_attention_heads":16,"intermediate_size":4096,
         "max_position_embeddings":8194,"type_vocab_size":1})",
     567'754'752, true},
    {"whisper-large-v3",
     R"({"architectures":["WhisperForConditionalGeneration"],"model_type":"whisper","d_model":1280,
         "encoder_layers":32,"decoder_layers":32,"encoder_ffn_dim":5120,"decoder_ffn_dim":5120,
         "num_mel_bins":128,"vocab_size":51866,"max_source_positions":1500,"max_target_positions":448})",
     1'543'490'560, true},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto est = count_json(c.config);
    INFO(est.note);
    REQUIRE(est.source != CountSource::None);
    CHECK(within(est.count, c.published, 0.01));
    if (c.exact) {
      CHECK(static_cast<double>(est.count) == c.published);
      CHECK(est.source == CountSource::Formula);
    }
  }
  // GPT-OSS-120B is the 20B config with 36 layers and 128 experts: 116.83B per OpenAI.
  if (have_shared(kConfigs)) {
    json::Value cfg = json::parse(config_text("gpt_oss_20b.json"));
    cfg["num_hidden_layers"] = json::Value(36);
    cfg["num_local_experts"] = json::Value(128);
    CHECK(model::count_parameters(cfg).count == 116'829'156'672);
  }
}

TEST_CASE("every model_type OME registers has a family formula", "[model-config]") {
  // The 44 keys of OME's loader registry (pkg/hfutil/modelconfig).
  for (const char* type :
       {"baichuan", "bert", "chatglm", "cohere", "command-r", "dbrx", "deepseek_v3", "deepseek_vl_v2", "exaone",
        "gemma", "gemma2", "gemma3", "gemma3_text", "gpt_oss", "internlm", "internlm2", "janus", "kimi_k2", "llama",
        "llama4", "llava", "minicpm", "minicpm3", "mistral", "mixtral", "mllama", "multi_modality", "phi", "phi3",
        "phi3_v", "phi3small", "phimoe", "qwen", "qwen2", "qwen2_5_vl", "qwen2_vl", "qwen3", "qwen3_5",
        "qwen3_5_moe", "qwen3_moe", "qwen3_vl", "qwen3_vl_moe", "stablelm", "xverse"}) {
    INFO(type);
    json::Value cfg(json::Object{{"model_type", json::Value(type)}});
    auto est = model::count_parameters(cfg);
    CHECK(est.source != CountSource::None);
    CHECK(est.count > 1'000'000);
    CHECK_THAT(est.note, !Catch::Contains("no exact formula"));
  }
}

TEST_CASE("unknown families get a labelled estimate, not a claim of exactness", "[model-config]") {
  // Falcon-7B (7.22B): no formula, so a Llama-shaped estimate from its sizes.
  auto est = count_json(R"({"architectures":["FalconForCausalLM"],"model_type":"falcon","hidden_size":4544,
      "num_hidden_layers":32,"vocab_size":65024,"num_attention_heads":71,"multi_query":true})");
  CHECK(est.source == CountSource::Estimate);
  CHECK_THAT(est.note, Catch::Contains("falcon") && Catch::Contains("estimate"));
  CHECK(within(est.count, 7.22e9, 0.10));
  // A known family whose config leaves out its sizes: defaults assumed, and said so.
  est = count_json(R"({"model_type":"llama"})");
  CHECK(est.source == CountSource::Estimate);
  CHECK_THAT(est.note, Catch::Contains("hidden_size"));
  // Nothing to count from.
  est = count_json(R"({"foo":1})");
  CHECK(est.source == CountSource::None);
  CHECK(est.count == 0);
  CHECK_FALSE(est.note.empty());
}

TEST_CASE("quantization keeps the real method and its bit width", "[model-config]") {
  if (have_shared(kConfigs)) {
    ModelFacts q = facts_of("qwen3_8b_fp8.json");
    CHECK(q.quantization == "fp8");
    CHECK(q.quantization_bits == 8);
    ModelFacts oss = facts_of("gpt_oss_20b.json");
    CHECK(oss.quantization == "mxfp4");  // OME drops this one
    CHECK(oss.quantization_bits == 4);
    ModelFacts l4 = facts_of("llama4.json");
    CHECK(l4.quantization == "compressed-tensors");
    CHECK(l4.quantization_bits == 8);  // config_groups.*.weights.num_bits
    CHECK(facts_of("llama3.json").quantization.empty());
  }
  auto parse = [](const std::string& q) {
    ModelFacts f;
    std::string err;
    REQUIRE(model::parse_model_config(
      R"({"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":4096,"quantization_config":)" + q +
        "}",
      f, err));
    return f;
  };
  ModelFacts f = parse(R"({"quant_method":"awq","bits":4,"group_size":128,"zero_point":true,"version":"gemm"})");
  CHECK(f.quantization == "awq");
  CHECK(f.quantization_bits == 4);
  f = parse(R"({"quant_method":"gptq","bits":8,"group_size":128,"desc_act":false})");
  CHECK(f.quantization == "gptq");
  CHECK(f.quantization_bits == 8);
  f = parse(R"({"quant_method":"bitsandbytes","load_in_4bit":true,"bnb_4bit_quant_type":"nf4"})");
  CHECK(f.quantization == "bitsandbytes");
  CHECK(f.quantization_bits == 4);
  f = parse(R"({"load_in_8bit":true})");  // older bitsandbytes configs name no method
  CHECK(f.quantization == "bitsandbytes");
  CHECK(f.quantization_bits == 8);
  f = parse(R"({"quant_method":"FBGEMM_FP8","activation_scale_ub":1200.0})");
  CHECK(f.quantization == "fbgemm_fp8");  // kept, not folded into "fp8" as OME does
  CHECK(f.quantization_bits == 8);
  f = parse(R"({"quant_method":"compressed-tensors","config_groups":{"group_0":{"weights":{"num_bits":4,
      "type":"int","group_size":128},"targets":["Linear"]}},"format":"pack-quantized"})");
  CHECK(f.quantization == "compressed-tensors");
  CHECK(f.quantization_bits == 4);
  f = parse(R"({"quant_method":"modelopt","quant_algo":"NVFP4"})");
  CHECK(f.quantization == "modelopt");
  CHECK(f.quantization_bits == 4);
}

TEST_CASE("capabilities use OME's vocabulary and fix its misses", "[model-config]") {
  if (!have_shared(kConfigs))
    return;
  for (const char* name : {"bge_large.json", "e5_mistral_7b.json", "gte_qwen2_7b.json"}) {
    INFO(name);
    ModelFacts f = facts_of(name);
    CHECK(f.is_embedding);
    CHECK(f.capabilities == std::vector<std::string>{"EMBEDDING"});
  }
  // Qwen3-Embedding declares Qwen3ForCausalLM; its sentence-transformers config says what it is.
  ModelFacts emb = facts_of("qwen3_embedding_8b.json");
  std::string err;
  REQUIRE(model::parse_sentence_transformers_config(config_text("config_sentence_transformers.json"), emb, err));
  CHECK(emb.is_embedding);
  CHECK(emb.capabilities == std::vector<std::string>{"EMBEDDING"});
  CHECK(emb.framework == "sentence-transformers");
  CHECK(emb.model_type == "qwen3");
  // Whether the LM head is stored varies between embedding releases: no longer claimed exact.
  CHECK(emb.parameter_source == CountSource::Estimate);
  CHECK(facts_of("gte_qwen2_7b.json").parameter_source == CountSource::Estimate);
  // The order the two files are read in does not matter.
  ModelFacts st_first;
  REQUIRE(model::parse_sentence_transformers_config(config_text("config_sentence_transformers.json"), st_first,
                                                    err));
  REQUIRE(model::parse_model_config(config_text("qwen3_embedding_8b.json"), st_first, err));
  CHECK(st_first.capabilities == std::vector<std::string>{"EMBEDDING"});
  CHECK(st_first.framework == "sentence-transformers");
  CHECK(st_first.parameter_source == CountSource::Estimate);
  ModelFacts cross;
  REQUIRE(model::parse_sentence_transformers_config(
    R"({"model_type":"CrossEncoder","__version__":{"sentence_transformers":"5.0.0"}})", cross, err));
  CHECK(cross.capabilities == std::vector<std::string>{"RERANK"});
  CHECK(cross.framework_version == "5.0.0");

  for (const char* name : {"gemma3.json", "llava_1.5_7b_hf.json", "llava_v1.5_7b.json", "llama3_2_11b_vision.json",
                           "phi3_v.json", "qwen2_vl_7b.json", "qwen2.5_vl_7b.json", "qwen3_vl_2b_instruct.json",
                           "deepseek_vl2_tiny.json", "janus_1.3b.json", "llama4.json", "qwen3_5_27b.json"}) {
    INFO(name);
    ModelFacts f = facts_of(name);
    CHECK(f.has_vision);
    CHECK(f.capabilities.front() == "IMAGE_TEXT_TO_TEXT");
    CHECK_FALSE(f.is_embedding);
  }
  for (const char* name : {"skywork_reward_llama.json", "internlm2_reward.json"}) {
    INFO(name);
    ModelFacts f = facts_of(name);
    CHECK(f.is_rerank);
    CHECK(f.capabilities == std::vector<std::string>{"RERANK"});
  }
  // ChatGLMModel is named like a base model but generates (auto_map says so).
  CHECK(facts_of("chatglm3_6b.json").capabilities == std::vector<std::string>{"TEXT_TO_TEXT"});
  CHECK(facts_of("llama3.json").capabilities == std::vector<std::string>{"TEXT_TO_TEXT"});
  ModelFacts clip = facts_of("clip_vision_model.json");
  CHECK(clip.has_vision);
  CHECK(clip.capabilities == std::vector<std::string>{"EMBEDDING"});
  CHECK(clip.parameter_count == 632'076'800);  // ViT-H/14 vision tower + 1280x1024 projection

  ModelFacts f;
  REQUIRE(model::parse_model_config(R"({"architectures":["WhisperForConditionalGeneration"],
      "model_type":"whisper","d_model":384})", f, err));
  CHECK(f.capabilities == std::vector<std::string>{"AUDIO_TO_TEXT"});
  f = {};
  REQUIRE(model::parse_model_config(R"({"architectures":["XLMRobertaForSequenceClassification"],
      "model_type":"xlm-roberta","hidden_size":1024})", f, err));
  CHECK(f.capabilities == std::vector<std::string>{"RERANK"});
  f = {};
  REQUIRE(model::parse_model_config(R"({"architectures":["Qwen2_5OmniForConditionalGeneration"],
      "model_type":"qwen2_5_omni","thinker_config":{"text_config":{"hidden_size":3584}},"vision_config":{}})",
                                    f, err));
  CHECK(has_cap(f, "TEXT_TO_AUDIO"));
  CHECK(has_cap(f, "AUDIO_TO_TEXT"));
  CHECK(has_cap(f, "IMAGE_TEXT_TO_TEXT"));
}

TEST_CASE("context length comes from the position table, nested for multimodal configs", "[model-config]") {
  if (!have_shared(kConfigs))
    return;
  struct Case {
    const char* file;
    int64_t ctx;
  };
  const Case cases[] = {
    {"llama3.json", 8192},
    {"llama3_1.json", 131072},          // rope_scaling does not stretch it
    {"gpt_oss_20b.json", 131072},       // initial_context_length 4096 is the pre-yarn length
    {"chatglm3_6b.json", 8192},         // seq_length
    {"dbrx_132b.json", 32768},          // max_seq_len
    {"llava_1.5_7b_hf.json", 4096},     // text_config
    {"llama3_2_11b_vision.json", 131072},
    {"qwen3_vl_2b_instruct.json", 262144},
    {"deepseek_vl2_tiny.json", 4096},   // language_config
    {"gemma3.json", 131072},            // Gemma3TextConfig default: the text_config omits it
    {"bge_large.json", 512},
    {"phi3_v.json", 131072},
  };
  for (const auto& c : cases) {
    INFO(c.file);
    CHECK(facts_of(c.file).context_length == c.ctx);
  }
}

TEST_CASE("shape, dtype and framework facts", "[model-config]") {
  if (!have_shared(kConfigs))
    return;
  ModelFacts f = facts_of("llama3_1.json");
  CHECK(f.model_type == "llama");
  CHECK(f.architecture == "LlamaForCausalLM");
  CHECK(f.dtype == "bfloat16");
  CHECK(f.framework == "transformers");
  CHECK(f.framework_version == "4.42.3");
  CHECK(f.hidden_size == 8192);
  CHECK(f.num_layers == 80);
  CHECK(f.num_attention_heads == 64);
  CHECK(f.num_kv_heads == 8);
  CHECK(f.vocab_size == 128256);
  CHECK_FALSE(f.num_experts);

  ModelFacts g = facts_of("gpt_oss_20b.json");
  CHECK(g.num_experts == 32);
  CHECK(g.num_experts_per_token == 4);
  ModelFacts d = facts_of("dbrx_132b.json");
  CHECK(d.hidden_size == 6144);
  CHECK(d.num_kv_heads == 12);  // attn_config.kv_n_heads
  CHECK(d.num_experts == 16);   // ffn_config.moe_num_experts
  CHECK(d.num_experts_per_token == 4);
  ModelFacts glm = facts_of("chatglm3_6b.json");
  CHECK(glm.num_kv_heads == 2);  // multi_query_group_num
  CHECK(glm.num_layers == 28);
  ModelFacts vl = facts_of("qwen3_vl_30b_a3b_instruct.json");
  CHECK(vl.dtype == "bfloat16");  // only text_config.dtype states it
  CHECK(vl.hidden_size == 2048);
  CHECK(vl.num_experts == 128);
  ModelFacts ds = facts_of("deepseek_vl2_tiny.json");
  CHECK(ds.model_type == "deepseek_vl_v2");
  CHECK(ds.num_experts == 64);
  CHECK(ds.num_experts_per_token == 6);
}

TEST_CASE("diffusers model_index.json", "[model-config]") {
  const char* sdxl = R"({"_class_name":"StableDiffusionXLPipeline","_diffusers_version":"0.19.0.dev0",
    "force_zeros_for_empty_prompt":true,"scheduler":["diffusers","EulerDiscreteScheduler"],
    "text_encoder":["transformers","CLIPTextModel"],"text_encoder_2":["transformers","CLIPTextModelWithProjection"],
    "tokenizer":["transformers","CLIPTokenizer"],"tokenizer_2":["transformers","CLIPTokenizer"],
    "unet":["diffusers","UNet2DConditionModel"],"vae":["diffusers","AutoencoderKL"]})";
  ModelFacts f;
  std::string err;
  REQUIRE(model::parse_diffusers_index(sdxl, f, err));
  CHECK(f.model_type == "diffusers");
  CHECK(f.architecture == "StableDiffusionXLPipeline");
  CHECK(f.framework == "diffusers");
  CHECK(f.framework_version == "0.19.0.dev0");
  CHECK(f.format == "diffusers");
  CHECK(f.capabilities == std::vector<std::string>{"TEXT_TO_IMAGE"});
  CHECK_FALSE(f.parameter_count);
  bool components = false;
  for (const auto& n : f.notes)
    components = components || n.find("unet=UNet2DConditionModel") != std::string::npos;
  CHECK(components);
  // The generic entry point recognises it too.
  ModelFacts g;
  REQUIRE(model::parse_model_config(sdxl, g, err));
  CHECK(g.architecture == "StableDiffusionXLPipeline");

  using V = std::vector<std::string>;
  CHECK(model::diffusers_capabilities("StableDiffusionXLImg2ImgPipeline") == V{"IMAGE_TEXT_TO_IMAGE"});
  CHECK(model::diffusers_capabilities("StableDiffusionInpaintPipeline") == V{"IMAGE_TEXT_TO_IMAGE"});
  CHECK(model::diffusers_capabilities("FluxKontextPipeline") == V{"IMAGE_TEXT_TO_IMAGE"});
  CHECK(model::diffusers_capabilities("QwenImageEditPipeline") == V{"IMAGE_TEXT_TO_IMAGE"});
  CHECK(model::diffusers_capabilities("FluxPipeline") == V{"TEXT_TO_IMAGE"});
  CHECK(model::diffusers_capabilities("WanPipeline") == V{"TEXT_TO_VIDEO"});
  CHECK(model::diffusers_capabilities("HunyuanVideoPipeline") == V{"TEXT_TO_VIDEO"});  // OME: image-to-video
  CHECK(model::diffusers_capabilities("CogVideoXPipeline") == V{"TEXT_TO_VIDEO"});
  CHECK(model::diffusers_capabilities("WanImageToVideoPipeline") == V{"IMAGE_TEXT_TO_VIDEO"});
  CHECK(model::diffusers_capabilities("StableVideoDiffusionPipeline") == V{"IMAGE_TEXT_TO_VIDEO"});
  CHECK(model::diffusers_capabilities("AudioLDM2Pipeline") == V{"TEXT_TO_AUDIO"});

  ModelFacts bad;
  CHECK_FALSE(model::parse_diffusers_index(R"({"_class_name":42})", bad, err));
  CHECK_THAT(err, Catch::Contains("_class_name"));
}

TEST_CASE("TensorRT-LLM engine config", "[model-config]") {
  const char* engine = R"({"version":"0.12.0","pretrained_config":{"architecture":"LlamaForCausalLM",
    "dtype":"bfloat16","vocab_size":128256,"hidden_size":4096,"num_hidden_layers":32,"num_attention_heads":32,
    "num_key_value_heads":8,"intermediate_size":14336,"max_position_embeddings":131072,"head_size":128,
    "hidden_act":"silu","norm_epsilon":1e-05,"position_embedding_type":"rope_gpt_neox",
    "mapping":{"world_size":2,"gpus_per_node":8,"tp_size":2,"pp_size":1},
    "quantization":{"quant_algo":"FP8","kv_cache_quant_algo":"FP8","group_size":128}},
    "build_config":{"max_input_len":8192,"max_seq_len":16384,"max_batch_size":64,"max_num_tokens":8192}})";
  ModelFacts f;
  std::string err;
  model::EngineMapping m;
  REQUIRE(model::parse_tensorrt_llm_config(engine, f, err, &m));
  CHECK(f.format == "tensorrt-llm");
  CHECK(f.format_version == "0.12.0");
  CHECK(f.architecture == "LlamaForCausalLM");
  CHECK(f.model_type == "llama");
  CHECK(f.dtype == "bfloat16");
  CHECK(f.quantization == "fp8");
  CHECK(f.quantization_bits == 8);
  CHECK(f.context_length == 16384);  // the engine's compiled limit, not the model's 128K
  CHECK(m.tp_size == 2);
  CHECK(m.pp_size == 1);
  CHECK(m.world_size == 2);
  CHECK(f.parameter_count == 8'030'261'248);  // Llama-3.1-8B shapes
  CHECK(f.parameter_source == CountSource::Estimate);
  CHECK(f.capabilities == std::vector<std::string>{"TEXT_TO_TEXT"});
  ModelFacts g;
  REQUIRE(model::parse_model_config(engine, g, err));
  CHECK(g.format == "tensorrt-llm");

  const char* legacy = R"({"builder_config":{"name":"llama","precision":"float16","tensor_parallel":4,
    "pipeline_parallel":2,"num_layers":80,"num_heads":64,"num_kv_heads":8,"hidden_size":8192,
    "vocab_size":128256,"max_position_embeddings":8192},"plugin_config":{}})";
  ModelFacts l;
  REQUIRE(model::parse_tensorrt_llm_config(legacy, l, err, &m));
  CHECK(l.model_type == "llama");
  CHECK(l.dtype == "float16");
  CHECK(m.tp_size == 4);
  CHECK(m.pp_size == 2);
  CHECK(m.world_size == 8);

  CHECK_FALSE(model::parse_tensorrt_llm_config(R"({"pretrained_config":{"architecture":7},"build_config":{}})",
                                               l, err));
}

TEST_CASE("a weight-file count is never replaced by a formula", "[model-config]") {
  ModelFacts f;
  f.parameter_count = 123;
  f.parameter_source = CountSource::Weights;
  std::string err;
  REQUIRE(model::parse_model_config(R"({"model_type":"llama","architectures":["LlamaForCausalLM"],
      "hidden_size":2048,"num_hidden_layers":16,"num_attention_heads":32,"vocab_size":128256,
      "intermediate_size":8192})", f, err));
  CHECK(f.parameter_count == 123);
  CHECK(f.parameter_source == CountSource::Weights);
  CHECK(f.hidden_size == 2048);
}

TEST_CASE("malformed configs are errors, never crashes", "[model-config]") {
  auto fails = [](std::string_view text, const char* needle) {
    ModelFacts f;
    f.model_type = "untouched";
    std::string err;
    INFO(text);
    CHECK_FALSE(model::parse_model_config(text, f, err));
    CHECK_THAT(err, Catch::Contains(needle));
    CHECK(f.model_type == "untouched");  // failure leaves the facts alone
  };
  fails("", "JSON");
  fails("not json", "JSON");
  fails(R"({"model_type":"llama",)", "JSON");
  fails("[1,2,3]", "object");
  fails("\"llama\"", "object");
  fails("42", "object");
  fails("null", "object");
  fails(std::string(10000, '['), "JSON");
  fails("{}", "not a model config");
  fails(R"({"model_type":42})", "model_type");
  fails(R"({"model_type":"llama","architectures":42})", "architectures");
  fails(R"({"model_type":"llama","architectures":[42]})", "architectures");
  fails(R"({"model_type":"llama","hidden_size":"4096"})", "hidden_size");
  fails(R"({"model_type":"llama","num_hidden_layers":true})", "num_hidden_layers");
  fails(R"({"model_type":"llama","hidden_size":-4096})", "hidden_size");
  fails(R"({"model_type":"llama","hidden_size":0})", "hidden_size");
  fails(R"({"model_type":"llama","hidden_size":1e15})", "hidden_size");
  fails(R"({"model_type":"llama","hidden_size":4096.5})", "hidden_size");
  fails(R"({"model_type":"llama","vocab_size":99999999999999999999999})", "vocab_size");
  fails(R"({"model_type":"llama","hidden_size":Infinity})", "hidden_size");
  fails(R"({"model_type":"llama","max_position_embeddings":-1})", "max_position_embeddings");
  fails(R"({"model_type":"llava","text_config":{"num_attention_heads":-3}})", "num_attention_heads");

  // NaN where a number is optional is tolerated (Hugging Face configs contain it).
  ModelFacts ok;
  std::string err;
  CHECK(model::parse_model_config(R"({"model_type":"llama","hidden_size":4096,"rope_theta":NaN,
      "initializer_range":Infinity})", ok, err));

  // Large but representable dimensions: the count overflows 64 bits and says so.
  auto est = count_json(R"({"model_type":"llama","hidden_size":1099511627776,"num_hidden_layers":1099511627776,
      "num_attention_heads":1,"vocab_size":1099511627776,"intermediate_size":1099511627776})");
  CHECK(est.source == CountSource::None);
  CHECK_THAT(est.note, Catch::Contains("overflow"));
  est = count_json(R"({"model_type":"qwen3_moe","num_experts":-1})");
  CHECK(est.source == CountSource::None);
  CHECK_THAT(est.note, Catch::Contains("num_experts"));
  est = count_json(R"({"model_type":"gpt_oss","num_attention_heads":0})");
  CHECK(est.source == CountSource::None);
  est = count_json("[1,2]");
  CHECK(est.source == CountSource::None);
  est = count_json(R"({"model_type":"llava","text_config":"oops","vision_config":[1]})");
  CHECK(est.source != CountSource::Formula);
}

TEST_CASE("randomly corrupted real configs never throw", "[model-config]") {
  if (!have_shared(kConfigs))
    return;
  std::mt19937 rng(20240611);
  const json::Value replacements[] = {json::Value(-1),      json::Value(0),        json::Value(1e300),
                                      json::Value(int64_t{1} << 62), json::Value("x"), json::Value(true),
                                      json::Value(nullptr), json::Value(json::Array{}), json::Value(json::Object{}),
                                      json::Value(3.5)};
  // Replaces members at random, depth first.
  std::function<void(json::Value&)> corrupt = [&](json::Value& v) {
    if (v.is_object()) {
      for (auto& m : v.as_object()) {
        if (rng() % 6 == 0)
          m.value = replacements[rng() % std::size(replacements)];
        else
          corrupt(m.value);
      }
    } else if (v.is_array()) {
      for (auto& e : v.as_array())
        if (rng() % 6 == 0)
          e = replacements[rng() % std::size(replacements)];
    }
  };
  size_t parsed = 0, rejected = 0;
  for (const auto& entry : std::filesystem::directory_iterator(shared_dir() / kConfigs)) {
    json::ParseOptions o;
    o.allow_nan_inf = true;
    json::Value base = json::parse(read_file(entry.path()), o);
    std::string text = read_file(entry.path());
    for (int round = 0; round < 40; ++round) {
      json::Value v = base;
      corrupt(v);
      std::string mutated = json::dump(v);
      ModelFacts f;
      std::string err;
      bool ok = false;
      REQUIRE_NOTHROW(ok = model::parse_model_config(mutated, f, err));
      (ok ? parsed : rejected)++;
      if (!ok)
        CHECK_FALSE(err.empty());
      REQUIRE_NOTHROW(model::count_parameters(v));
      // Truncated files too.
      std::string cut = text.substr(0, rng() % text.size());
      REQUIRE_NOTHROW(model::parse_model_config(cut, f, err));
    }
  }
  CHECK(parsed > 0);
  CHECK(rejected > 0);
}
