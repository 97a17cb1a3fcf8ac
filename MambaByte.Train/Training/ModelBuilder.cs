using System.Text.Json.Nodes;
using MambaByte.Core.Models;
using MambaByte.Core.Architectures;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Core.Architectures.MegaByte;
using MambaByte.Core.Architectures.Transformer;

namespace MambaByte.Train.Training;

/// <summary>
/// The model <c>train</c> starts from: the config.json <c>--model-config</c> names (the exact model, any
/// architecture; <c>mambabyte compare</c> trains its matched models this way), else the architecture's preset, with <c>--d-model</c> and <c>--n-layer</c>
/// overriding its width and depth (for MegaByte, the global model's), built through <see cref="ModelFactory"/> from
/// the same config.json a checkpoint will carry.
/// </summary>
public static class ModelBuilder
{
    const string Source = "--arch/--preset/--d-model/--n-layer";

    public static ByteLanguageModel FromOptions(TrainOptions options) =>
        ModelFactory.FromConfig(ConfigFor(options), string.IsNullOrEmpty(options.ModelConfig) ? Source : options.ModelConfig, options.Seed);

    public static JsonObject ConfigFor(TrainOptions options)
    {
        if (!string.IsNullOrEmpty(options.ModelConfig))
        {
            JsonObject json = ModelFactory.ReadConfig(options.ModelConfig);
            string architecture = ModelFactory.ArchitectureOf(json, options.ModelConfig);
            if (architecture != options.Arch)
                throw new ArgumentException($"--model-config {options.ModelConfig}: describes a {architecture} model but --arch is {options.Arch}");
            return json;
        }
        switch (options.Arch)
        {
            case "mamba":
            {
                MambaConfig config = MambaConfig.Preset(options.Preset);
                if (options.DModel > 0) config = config with { DModel = options.DModel };
                if (options.NLayer > 0) config = config with { NLayer = options.NLayer };
                return config.Validate(Source).ToJson();
            }
            case TransformerConfig.ArchitectureName:
            {
                TransformerConfig config = TransformerConfig.Preset(options.Preset);
                if (options.DModel > 0) config = config with { DModel = options.DModel, NHead = HeadsFor(options.DModel, config.NHead) };
                if (options.NLayer > 0) config = config with { NLayer = options.NLayer };
                return config.Validate(Source).ConfigJson();
            }
            case MegaByteConfig.ArchitectureName:
            {
                MegaByteConfig config = MegaByteConfig.Preset(options.Preset);
                if (options.DModel > 0) config = config with { DGlobal = options.DModel, NGlobalHead = HeadsFor(options.DModel, config.NGlobalHead) };
                if (options.NLayer > 0) config = config with { NGlobalLayer = options.NLayer };
                // The global model's position table must cover the training windows.
                if (config.MaxContext < options.Context) config = config with { MaxContext = options.Context };
                return config.Validate(Source).ConfigJson();
            }
            default:
                throw new ArgumentException($"--arch {options.Arch}: expected mamba, transformer or megabyte");
        }
    }

    /// <summary>Keeps the preset's head count when it still divides the new width into even heads, else heads of about 64.</summary>
    static int HeadsFor(int width, int presetHeads)
    {
        if (width % presetHeads == 0 && width / presetHeads % 2 == 0) return presetHeads;
        int heads = Math.Max(1, width / 64);
        while (heads > 1 && (width % heads != 0 || width / heads % 2 != 0)) heads--;
        return heads;   // an odd width still fails Validate with its own message
    }
}
