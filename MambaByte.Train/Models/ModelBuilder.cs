using MambaByte.Core.Models;
using MambaByte.Train.Training;

namespace MambaByte.Train.Models;

/// <summary>The model <c>train</c> starts from: the architecture's preset, with <c>--d-model</c>/<c>--n-layer</c> overriding it.</summary>
public static class ModelBuilder
{
    public static ByteLanguageModel FromOptions(TrainOptions options)
    {
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
