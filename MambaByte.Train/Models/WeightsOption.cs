using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Train.Models;

/// <summary><c>--weights fp32|bf16|int8</c> of <c>generate</c> and <c>eval</c>: parses the format and applies it to a loaded model.</summary>
public static class WeightsOption
{
    /// <summary>The default <c>--weights</c>: the model as trained.</summary>
    public const string Default = "fp32";

    public const string Help = "fp32 (default), bf16 or int8 (weight-only, a scale per output row): how Mamba's in_proj, out_proj and head are stored and multiplied";

    public static WeightFormat Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "fp32" or "float32" => WeightFormat.Fp32,
        "bf16" or "bfloat16" => WeightFormat.Bf16,
        "int8" => WeightFormat.Int8,
        _ => throw new ArgumentException($"--weights {text}: expected fp32, bf16 or int8"),
    };

    public static string Name(WeightFormat format) => format.ToString().ToLowerInvariant();

    /// <summary>Rounds the model's inference matrices to <paramref name="format"/> (see <see cref="MambaLMHeadModel.UseWeights"/>).</summary>
    public static void Apply(ByteLanguageModel model, WeightFormat format)
    {
        if (format == WeightFormat.Fp32) return;
        if (model is not MambaLMHeadModel mamba) throw new ArgumentException($"--weights {Name(format)}: compact weights are implemented for Mamba models; this checkpoint is {model.Architecture}");
        mamba.UseWeights(format);
    }
}
