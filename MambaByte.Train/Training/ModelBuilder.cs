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
/// overriding its width and depth (<see cref="IModelConfig.WithOverrides"/>), built through <see cref="ModelFactory"/> from
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
        IModelConfig config = ArchitectureRegistry.Get(options.Arch, "--arch").Preset(options.Preset)
            .WithOverrides(new ModelOverrides(options.DModel, options.NLayer, options.Context));
        return ArchitectureRegistry.Validate(config, Source).ConfigJson();
    }
}
