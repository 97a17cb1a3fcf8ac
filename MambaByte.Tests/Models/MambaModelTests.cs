using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Tests.Models;

public sealed class MambaModelTests
{
    static MambaConfig TinyConfig => new() { DModel = 8, NLayer = 2, DState = 3, DConv = 3 };

    static Tensor RandomBytes(long batch, long length, long seed) =>
        randint(0, 256, [batch, length], dtype: int64, generator: new Generator((ulong)seed));

    [Fact]
    public void State_dict_keys_are_exactly_the_reference_names()
    {
        SingleThreadedTorch.Ensure();
        using var model = new MambaLMHeadModel(TinyConfig);
        var expected = new List<string> { "backbone.embedding.weight", "backbone.norm_f.weight", "lm_head.weight" };
        for (int i = 0; i < 2; i++)
        {
            foreach (string p in new[] { "in_proj.weight", "conv1d.weight", "conv1d.bias", "x_proj.weight", "dt_proj.weight", "dt_proj.bias", "out_proj.weight", "A_log", "D" })
                expected.Add($"backbone.layers.{i}.mixer.{p}");
            expected.Add($"backbone.layers.{i}.norm.weight");
        }
        var sd = model.state_dict();
        Assert.Equal(expected.Order(StringComparer.Ordinal), sd.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([32L, 8], sd["backbone.layers.0.mixer.in_proj.weight"].shape);      // (2*d_inner, d_model)
        Assert.Equal([16L, 1, 3], sd["backbone.layers.0.mixer.conv1d.weight"].shape);    // (d_inner, 1, d_conv)
        Assert.Equal([1L + 2 * 3, 16], sd["backbone.layers.0.mixer.x_proj.weight"].shape); // (dt_rank+2*d_state, d_inner)
        Assert.Equal([16L, 1], sd["backbone.layers.0.mixer.dt_proj.weight"].shape);
        Assert.Equal([16L, 3], sd["backbone.layers.0.mixer.A_log"].shape);
        Assert.Equal([8L, 16], sd["backbone.layers.0.mixer.out_proj.weight"].shape);
    }

    [Fact]
    public void Tied_head_is_the_embedding_and_is_counted_once()
    {
        SingleThreadedTorch.Ensure();
        using var tied = new MambaLMHeadModel(TinyConfig);
        using var untied = new MambaLMHeadModel(TinyConfig with { TieEmbeddings = false });
        Assert.Equal(TinyConfig.ParameterCount, tied.ParameterCount);
        Assert.Equal(tied.ParameterCount + 256 * 8, untied.ParameterCount);
        Assert.Equal(tied.parameters().Count() + 1, untied.parameters().Count());
        using (no_grad()) tied.state_dict()["backbone.embedding.weight"][3, 2] = 7.5f;
        Assert.Equal(7.5f, tied.state_dict()["lm_head.weight"][3, 2].item<float>());
    }

    [Fact]
    public void Analytic_parameter_count_matches_models_and_paper_sizes()
    {
        SingleThreadedTorch.Ensure();
        using var model = new MambaLMHeadModel(MambaConfig.Tiny with { Bias = true, RmsNorm = false, TieEmbeddings = false });
        Assert.Equal((MambaConfig.Tiny with { Bias = true, RmsNorm = false, TieEmbeddings = false }).ParameterCount, model.ParameterCount);
        // The paper's names give the size in millions.
        Assert.InRange(MambaConfig.Preset("MambaByte-353M").ParameterCount / 1e6, 343, 363);
        Assert.InRange(MambaConfig.Preset("mambabyte-972m").ParameterCount / 1e6, 950, 995);
        Assert.Contains("known: tiny", Assert.Throws<ArgumentException>(() => MambaConfig.Preset("huge")).Message);
    }

    [Fact]
    public void Full_forward_equals_step_by_step_recurrence_at_float64()
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        using var model = new MambaLMHeadModel(TinyConfig, seed: 3);
        model.to(float64);
        Tensor bytes = RandomBytes(2, 300, 11);
        Tensor full;
        using (no_grad()) full = model.forward(bytes);                                        // (2, 300, 256)
        Assert.Equal([2L, 300, 256], full.shape);

        using var state = (MambaInferenceState)model.NewState(2);
        var steps = new Tensor[300];
        for (int t = 0; t < 300; t++) steps[t] = model.Step(bytes[.., t], state);
        Tensor recurrent = stack(steps, 1);
        Assert.Equal(300, state.Position);
        double maxDiff = (full - recurrent).abs().max().item<double>();
        Assert.True(maxDiff < 1e-9, $"max |forward - step| = {maxDiff}");
        Assert.True(full.std().item<double>() > 1e-3);   // the logits are not trivially constant

        // Prefill 150 then step 150 gives the same logits and the same final states.
        using var mixed = (MambaInferenceState)model.NewState(2);
        Tensor prefill;
        using (no_grad()) prefill = model.Prefill(bytes[.., ..150], mixed);
        var rest = new Tensor[150];
        for (int t = 150; t < 300; t++) rest[t - 150] = model.Step(bytes[.., t], mixed);
        Tensor combined = cat([prefill, stack(rest, 1)], 1);
        double mixedDiff = (full - combined).abs().max().item<double>();
        Assert.True(mixedDiff < 1e-9, $"max |forward - (prefill+step)| = {mixedDiff}");
        for (int i = 0; i < 2; i++)
        {
            Assert.True((state.Layers[i].SsmState - mixed.Layers[i].SsmState).abs().max().item<double>() < 1e-9);
            // The conv state holds the last d_conv in_proj outputs; after the prefill they come from the fused step's own
            // products, whose inputs (the residual stream) differ from the step-only run's in the last bits: equal to 1e-9
            // like every other figure here, not bit for bit.
            double convDiff = (state.Layers[i].ConvState - mixed.Layers[i].ConvState).abs().max().item<double>();
            Assert.True(convDiff < 1e-9, $"layer {i}: max |conv state difference| = {convDiff}");
        }
    }

    [Fact]
    public void Prefill_of_a_sequence_shorter_than_the_conv_then_steps_matches_the_forward()
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        using var model = new MambaLMHeadModel(TinyConfig, seed: 5);
        model.to(float64);
        Tensor bytes = RandomBytes(1, 9, 2);
        Tensor full;
        using (no_grad()) full = model.forward(bytes);
        using var state = model.NewState(1);
        Tensor first;
        using (no_grad()) first = model.Prefill(bytes[.., ..1], state);                      // 1 < d_conv - 1
        Tensor second;
        using (no_grad()) second = model.Prefill(bytes[.., 1..4], state);
        var rest = Enumerable.Range(4, 5).Select(t => model.Step(bytes[.., t], state).unsqueeze(1)).ToArray();
        Tensor combined = cat([first, second, .. rest], 1);
        Assert.True((full - combined).abs().max().item<double>() < 1e-10);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Float32_forward_and_recurrence_agree_within_float32_rounding(bool rmsNorm)
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        using var model = new MambaLMHeadModel(TinyConfig with { Bias = true, RmsNorm = rmsNorm, TieEmbeddings = rmsNorm }, seed: 8);
        Tensor bytes = RandomBytes(3, 64, 12);
        Tensor full;
        using (no_grad()) full = model.forward(bytes);
        using var state = model.NewState(3);
        Tensor recurrent = stack(Enumerable.Range(0, 64).Select(t => model.Step(bytes[.., t], state)).ToArray(), 1);
        Assert.Equal(ScalarType.Float32, recurrent.dtype);
        double diff = (full - recurrent).abs().max().item<float>();
        Assert.True(diff < 1e-4, $"max |forward - step| = {diff}");
    }

    [Fact]
    public void Forcing_the_reference_scan_gives_the_logits_of_the_automatic_choice()
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        using var model = new MambaLMHeadModel(TinyConfig, seed: 6);
        model.to(float64);
        Tensor bytes = RandomBytes(2, 50, 13);
        using var noGrad = no_grad();
        Tensor auto = model.forward(bytes);
        model.ScanKind = MambaByte.Core.Ops.SelectiveScanKind.Reference;
        Tensor reference = model.forward(bytes);
        Assert.True((auto - reference).abs().max().item<double>() < 1e-9);
        Assert.Equal(MambaByte.Core.Ops.SelectiveScanKind.Reference, model.ScanKind);
    }

    [Fact]
    public void Prefill_carries_the_state_across_training_windows_and_backpropagates_within_each()
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        using var model = new MambaLMHeadModel(TinyConfig, seed: 10);
        model.to(float64);
        Tensor bytes = RandomBytes(2, 60, 14);
        Tensor full;
        using (no_grad()) full = model.forward(bytes);
        using var state = model.NewState(2);
        Tensor first = model.Prefill(bytes[.., ..30], state);
        first.sum().backward();
        Tensor second = model.Prefill(bytes[.., 30..], state);
        second.sum().backward();   // the state was overwritten in place after the scan used it: must not break autograd
        Assert.True((full[.., 30..] - second.detach()).abs().max().item<double>() < 1e-9);
        Tensor grad = model.named_parameters().First(p => p.name.EndsWith("layers.0.mixer.A_log")).parameter.grad!;
        Assert.True(grad.isfinite().all().item<bool>() && grad.abs().sum().item<double>() > 0);
    }

    [Fact]
    public void Changing_byte_t_leaves_earlier_logits_unchanged_and_changes_logits_at_t()
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        using var model = new MambaLMHeadModel(TinyConfig, seed: 4);
        model.to(float64);
        Tensor bytes = RandomBytes(1, 40, 5);
        Tensor changed = bytes.clone();
        const int t = 23;
        changed[0, t] = (bytes[0, t] + 17) % 256;
        using var noGrad = no_grad();
        Tensor a = model.forward(bytes), b = model.forward(changed);
        Assert.Equal(0.0, (a[.., ..t] - b[.., ..t]).abs().max().item<double>());
        Assert.True((a[.., t] - b[.., t]).abs().max().item<double>() > 1e-6);
        Assert.True((a[.., (t + 1)..] - b[.., (t + 1)..]).abs().max().item<double>() > 1e-6);
    }

    [Fact]
    public void Initialisation_follows_the_reference()
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        var config = new MambaConfig { DModel = 64, NLayer = 4, DState = 16, DtMin = 0.002, DtMax = 0.05, DtInitFloor = 0.003 };
        using var model = new MambaLMHeadModel(config, seed: 9);
        var sd = model.state_dict();
        int dInner = 128, dtRank = 4;
        for (int i = 0; i < 4; i++)
        {
            string m = $"backbone.layers.{i}.mixer.";
            // S4D-real: A_log[c, s] = log(s + 1) for every channel c.
            Tensor aLog = sd[m + "A_log"].to_type(float64);
            for (int s = 0; s < 16; s++)
                Assert.True((aLog[.., s] - Math.Log(s + 1)).abs().max().item<double>() < 1e-6);
            Assert.True(sd[m + "D"].eq(1).all().item<bool>());

            Tensor dt = nn.functional.softplus(sd[m + "dt_proj.bias"].to_type(float64));
            Assert.True(dt.min().item<double>() >= 0.003 - 1e-7, "dt below the floor");
            Assert.True(dt.max().item<double>() <= 0.05 + 1e-7, "dt above dt_max");
            Assert.True(dt.gt(0.0031).any().item<bool>());   // not everything sits on the floor
            Assert.Equal(dInner, dt.shape[0]);

            double dtBound = Math.Pow(dtRank, -0.5);
            Tensor dtW = sd[m + "dt_proj.weight"];
            Assert.True(dtW.abs().max().item<float>() <= dtBound + 1e-6);
            Assert.True(dtW.abs().max().item<float>() > 0.8 * dtBound);

            // kaiming_uniform(a=√5) on (d_model, d_inner): bound 1/√d_inner, then / √n_layer.
            double outBound = 1 / Math.Sqrt(dInner) / Math.Sqrt(4);
            Tensor outW = sd[m + "out_proj.weight"];
            Assert.True(outW.abs().max().item<float>() <= outBound + 1e-6);
            Assert.True(outW.abs().max().item<float>() > 0.9 * outBound);
            Assert.InRange(outW.std().item<float>(), 0.9 * outBound / Math.Sqrt(3), 1.1 * outBound / Math.Sqrt(3));
        }
        Assert.InRange(sd["backbone.embedding.weight"].std().item<float>(), 0.019, 0.021);
        Assert.InRange(sd["backbone.embedding.weight"].mean().item<float>(), -0.001, 0.001);
        Assert.True(sd["backbone.norm_f.weight"].eq(1).all().item<bool>());

        // Linear biases other than dt_proj's are zeroed; the seed fixes the weights.
        using var biased = new MambaLMHeadModel(config with { Bias = true }, seed: 9);
        Assert.True(biased.state_dict()["backbone.layers.1.mixer.in_proj.bias"].eq(0).all().item<bool>());
        Assert.True(biased.state_dict()["backbone.layers.1.mixer.out_proj.bias"].eq(0).all().item<bool>());
        using var again = new MambaLMHeadModel(config, seed: 9);
        Assert.True(again.state_dict()["backbone.layers.2.mixer.x_proj.weight"].eq(sd["backbone.layers.2.mixer.x_proj.weight"]).all().item<bool>());
    }

    [Fact]
    public void A_log_D_biases_and_norms_are_excluded_from_weight_decay()
    {
        SingleThreadedTorch.Ensure();
        using var model = new MambaLMHeadModel(TinyConfig with { Bias = true });
        var decays = model.named_parameters().ToDictionary(p => p.name, p => model.DecaysWeight(p.name, p.parameter));
        Assert.False(decays["backbone.layers.0.mixer.A_log"]);
        Assert.False(decays["backbone.layers.0.mixer.D"]);
        Assert.False(decays["backbone.layers.0.mixer.dt_proj.bias"]);
        Assert.False(decays["backbone.layers.0.mixer.in_proj.bias"]);
        Assert.False(decays["backbone.layers.1.norm.weight"]);
        Assert.False(decays["backbone.norm_f.weight"]);
        Assert.True(decays["backbone.layers.0.mixer.in_proj.weight"]);
        Assert.True(decays["backbone.layers.0.mixer.conv1d.weight"]);
        Assert.True(decays["backbone.embedding.weight"]);
    }

    [Fact]
    public void Flop_counts_match_a_hand_count_for_a_tiny_config()
    {
        SingleThreadedTorch.Ensure();
        // d=8, e=16, n=3, r=1, k=3, V=256, 2 layers, RMSNorm, conv bias, no Linear bias.
        using var model = new MambaLMHeadModel(TinyConfig);
        double perLayer =
            8 + 32            // residual add, RMSNorm 4d
            + 2 * 8 * 32      // in_proj 512
            + 2 * 3 * 16 + 16 // conv 96 + bias 16
            + 4 * 16          // SiLU 64
            + 2 * 16 * 7      // x_proj 224
            + 2 * 1 * 16 + 16 + 3 * 16 // dt_proj 32, bias 16, softplus 48
            + 7 * 16 * 3 + 16 // scan 336 + Δu 16
            + 2 * 16          // D·u 32
            + 4 * 16 + 16     // gate 80
            + 2 * 16 * 8;     // out_proj 256
        Assert.Equal(1768.0, perLayer);
        double forward = 2 * 1768 + 8 + 32 + 2 * 8 * 256;
        Assert.Equal(forward, model.ForwardFlopsPerByte());
        Assert.Equal(3 * forward, model.TrainingFlopsPerByte(1024));
        Assert.Equal(model.TrainingFlopsPerByte(64), model.TrainingFlopsPerByte(4096));
        Assert.Equal(forward, model.GenerationFlopsPerByte(0));
        Assert.Equal(forward, model.GenerationFlopsPerByte(1_000_000));
    }
}
