using MambaByte.Core.Models;
using MambaByte.Train.Training;

namespace MambaByte.Train.Models;

/// <summary>The model <c>train</c> starts from: <c>--model-config</c> when given, else the architecture's preset with <c>--d-model</c>/<c>--n-layer</c> overriding it.</summary>
public static class ModelBuilder
{
    public static ByteLanguageModel FromOptions(TrainOptions options)
    {
        if (!string.IsNullOrEmpty(options.ModelConfig))
        {
            ByteLanguageModel model = ModelFactory.FromConfigFile(options.ModelConfig, options.Seed);
            if (model.Architecture != options.Arch)
            {
                model.Dispose();
                throw new ArgumentException($"--model-config {options.ModelConfig}: describes a {model.Architecture} model but --arch is {options.Arch}");
            }
            return model;
        }
        switch (options.Arch)
        {
            case "mamba":
                MambaConfig config = MambaConfig.Preset(options.Preset);
                if (options.DModel > 0) config = config with { DModel = options.DModel };
                if (options.NLayer > 0) config = config with { NLayer = options.NLayer };
                return ModelFactory.FromConfig(config.Validate("--preset/--d-model/--n-layer").ToJson(), "--arch mamba", options.Seed);
            default:
                throw new ArgumentException($"--arch {options.Arch}: not available in this build (known: mamba)");
        }
    }
}
