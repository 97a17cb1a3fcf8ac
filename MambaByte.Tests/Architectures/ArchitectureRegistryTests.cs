using System.Text.Json.Nodes;
using MambaByte.Core.Architectures;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Models;
using MambaByte.Tests.Support;
using MambaByte.Train.Compare;
using MambaByte.Train.Training;
using static TorchSharp.torch;

namespace MambaByte.Tests.Architectures;

/// <summary>The one list of architectures: what every registered architecture must do the same way.</summary>
public sealed class ArchitectureRegistryTests
{
    public static TheoryData<string> Registered => [.. ArchitectureRegistry.Names];

    [Fact]
    public void The_registry_lists_the_three_architectures_once_each_with_lower_case_names_found_case_insensitively()
    {
        Assert.Equal(["mamba", "transformer", "megabyte"], ArchitectureRegistry.Names.Take(3));
        Assert.Equal(ArchitectureRegistry.Names.Count, ArchitectureRegistry.Names.Distinct().Count());
        Assert.Equal("mamba", ArchitectureRegistry.Default.Name);
        foreach (IArchitecture architecture in ArchitectureRegistry.All)
        {
            Assert.Equal(architecture.Name.ToLowerInvariant(), architecture.Name);
            Assert.Same(architecture, ArchitectureRegistry.Find(" " + architecture.Name.ToUpperInvariant() + " "));
            Assert.NotEmpty(architecture.PresetNames);
            Assert.Contains("tiny", architecture.PresetNames);
        }
        Assert.Null(ArchitectureRegistry.Find("rwkv"));
    }

    [Fact]
    public void Every_unknown_architecture_error_lists_exactly_the_registered_names()
    {
        string[] names = [.. ArchitectureRegistry.All.Select(a => a.Name)];

        var config = new JsonObject { ["architecture"] = "rwkv", ["d_model"] = 8 };
        string fromConfig = Assert.Throws<InvalidDataException>(() => ArchitectureRegistry.Of(config, "x/config.json")).Message;
        Assert.Equal($"x/config.json: unknown architecture \"rwkv\" (this build knows: {string.Join(", ", names)})", fromConfig);
        Assert.Equal(names, ListAfter(fromConfig, "(this build knows: ").TrimEnd(')').Split(", "));

        string fromTrain = Assert.Throws<ArgumentException>(() => new TrainOptions { Arch = "rwkv" }.Validate()).Message;
        Assert.StartsWith("--arch rwkv: expected ", fromTrain);
        Assert.Equal(names, ListAfter(fromTrain, "expected ").Replace(" or ", ", ", StringComparison.Ordinal).Split(", "));

        var compare = new ComparisonOptions { Data = "kjv", Architectures = ["mamba", "rwkv"], BudgetFlops = 1e9 };
        string fromCompare = Assert.Throws<ArgumentException>(compare.Validate).Message;
        Assert.Equal(names, ListAfter(fromCompare, "(known: ").TrimEnd(')').Split(", "));

        static string ListAfter(string message, string marker) => message[(message.IndexOf(marker, StringComparison.Ordinal) + marker.Length)..];
    }

    [Theory]
    [MemberData(nameof(Registered))]
    public void Every_preset_round_trips_through_the_registry_config_json(string name)
    {
        IArchitecture architecture = ArchitectureRegistry.Get(name, "--arch");
        foreach (string preset in architecture.PresetNames)
        {
            IModelConfig config = architecture.Preset(preset);
            Assert.Equal(name, config.Architecture);
            string written = config.ConfigJson().ToJsonString();
            JsonObject json = JsonNode.Parse(written)!.AsObject();
            Assert.Same(architecture, ArchitectureRegistry.Of(json, preset));
            IModelConfig read = ArchitectureRegistry.Read(json, preset);
            Assert.Equal(written, read.ConfigJson().ToJsonString());
            Assert.Equal(config.ParameterCount(), read.ParameterCount());
            Assert.Equal(config.TrainingFlopsPerByte(1024), read.TrainingFlopsPerByte(1024));
            Assert.Equal(config.Shape, read.Shape);

            // The seed is not written (a checkpoint's weights replace it) but is read when present.
            Assert.False(json.ContainsKey("seed"));
            json["seed"] = 4242;
            Assert.Equal(4242, ArchitectureRegistry.Read(json, preset).Seed);
        }
    }

    [Theory]
    [MemberData(nameof(Registered))]
    public void The_config_counts_the_built_models_parameters_and_flops(string name)
    {
        SingleThreadedTorch.Ensure();
        IModelConfig config = ArchitectureRegistry.Get(name, "--arch").Preset("tiny");
        using ByteLanguageModel model = config.Build();
        Assert.Equal(name, model.Architecture);
        // Counted from the modules the model registered, not from the config's formula.
        Assert.Equal(model.parameters().Sum(p => p.numel()), config.ParameterCount());
        foreach (int context in new[] { 8, 64, 1000 })
            Assert.Equal(model.TrainingFlopsPerByte(context), config.TrainingFlopsPerByte(context));
        foreach (long position in new[] { 0L, 7L, 8L, 500L })
            Assert.Equal(model.GenerationFlopsPerByte(position), config.GenerationFlopsPerByte(position));
        // The config.json the model writes reads back to the same config.
        Assert.Equal(config.ConfigJson().ToJsonString(), ArchitectureRegistry.Read(model.ConfigJson()).ConfigJson().ToJsonString());
    }

    [Fact]
    public void Mamba_flops_from_the_config_equal_the_hand_count_the_model_used_to_make()
    {
        // Tiny: d = 16, e = 32, n = 4, r = ceil(16/16) = 1, k = 4, V = 256, RMSNorm, conv bias, no Linear bias. Per layer:
        // 16 + 64 (add, norm) + 2048 (in_proj) + 256 + 32 (conv, bias) + 128 (SiLU) + 576 (x_proj) + 64 + 32 + 96
        // (dt_proj, bias, softplus) + 896 + 32 (scan) + 64 (D·u) + 128 + 32 (gate) + 1024 (out_proj) = 5488;
        // two layers + 16 + 64 (final add, norm) + 8192 (head) = 19 248.
        IModelConfig tiny = MambaConfig.Tiny;
        Assert.Equal(19248.0, tiny.GenerationFlopsPerByte(12345));
        Assert.Equal(3 * 19248.0, tiny.TrainingFlopsPerByte(256));
    }

    [Theory]
    [MemberData(nameof(Registered))]
    public void The_size_knob_grows_parameters_and_flops_strictly(string name)
    {
        IArchitecture architecture = ArchitectureRegistry.Get(name, "--arch");
        var context = new SizeContext(256, 1000);
        IModelConfig[] sizes = [.. Enumerable.Range(1, 4).Select(s => ArchitectureRegistry.Validate(architecture.FromSize(s, context), "test"))];
        for (int s = 1; s < sizes.Length; s++)
        {
            Assert.True(sizes[s].ParameterCount() > sizes[s - 1].ParameterCount(), $"{name} size {s + 1}");
            Assert.True(sizes[s].TrainingFlopsPerByte(256) > sizes[s - 1].TrainingFlopsPerByte(256), $"{name} size {s + 1}");
        }
    }

    [Theory]
    [MemberData(nameof(Registered))]
    public void The_same_seed_gives_the_same_weights_another_seed_other_weights_and_the_global_generator_is_untouched(string name)
    {
        SingleThreadedTorch.Ensure();
        IModelConfig config = ArchitectureRegistry.Get(name, "--arch").Preset("tiny");
        manual_seed(99);
        byte[] before = RngState();
        using ByteLanguageModel a = config.WithSeed(5).Build();
        Assert.Equal(before, RngState());
        manual_seed(7);   // another global stream: the weights must come from the config's seed alone
        using ByteLanguageModel b = config.WithSeed(5).Build();
        using ByteLanguageModel c = config.WithSeed(6).Build();
        Dictionary<string, Tensor> sa = a.state_dict(), sb = b.state_dict(), sc = c.state_dict();
        Assert.Equal(sa.Keys.Order(), sc.Keys.Order());
        int random = 0;
        foreach ((string key, Tensor value) in sa)
        {
            Assert.True(value.equal(sb[key]).all().item<bool>(), $"{name}: {key} differs between two builds with seed 5");
            if (value.dim() < 2 || key.EndsWith("A_log", StringComparison.Ordinal)) continue;   // A_log is S4D-real, not random
            random++;
            Assert.False(value.equal(sc[key]).all().item<bool>(), $"{name}: {key} is the same with seeds 5 and 6");
        }
        Assert.True(random >= 3, $"{name}: only {random} random matrices");
    }

    [Theory]
    [MemberData(nameof(Registered))]
    public void A_checkpoint_of_every_architecture_records_its_training_context(string name)
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        using ByteLanguageModel model = ArchitectureRegistry.Get(name, "--arch").Preset("tiny").Build();
        ModelCheckpoint.Save(model, temp.File("trained"), trainedContext: 96);
        ModelCheckpoint.Save(model, temp.File("plain"));
        Assert.Equal(96, ModelCheckpoint.TrainedContext(temp.File("trained")));
        Assert.Null(ModelCheckpoint.TrainedContext(temp.File("plain")));
        using ByteLanguageModel loaded = ModelCheckpoint.Load(temp.File("trained"), CPU);
        Assert.Equal(model.ConfigJson().ToJsonString(), loaded.ConfigJson().ToJsonString());
    }

    static byte[] RngState()
    {
        using Tensor state = get_rng_state();
        return state.data<byte>().ToArray();
    }
}
