using System.Globalization;
using MambaByte.Core.Models;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Core.Architectures;
using MambaByte.Core.Architectures.MegaByte;
using MambaByte.Core.Architectures.Transformer;

namespace MambaByte.Train.Compare;

/// <summary>
/// Picks every architecture's dims from one size knob. Mamba at size S is the reference; each baseline searches
/// its own size knob (<see cref="TransformerConfig.FromSize"/>, <see cref="MegaByteConfig.FromSize"/>) and, at each
/// knob value, the width of its MLP (the Transformer's d_mlp, MegaByte's global d_mlp), a fine knob whose cost grows
/// linearly, so parameters or training FLOPs per byte land within <see cref="Tolerance"/> of Mamba's.
/// </summary>
public static class ArchitectureMatcher
{
    public const string MatchParams = "params";
    public const string MatchFlops = "flops";

    /// <summary>The largest allowed |matched / reference − 1|.</summary>
    public const double Tolerance = 0.10;

    /// <summary>Among candidates this close, the one whose MLP width is nearest its default shape wins.</summary>
    const double CloseEnough = 0.01;

    const int MaxSizeKnob = 64;

    public static readonly string[] KnownArchitectures = ["mamba", "transformer", "megabyte"];

    /// <summary>
    /// Mamba at a size: a preset name (tiny, small, medium, mambabyte-353m, mambabyte-972m) or an integer S giving
    /// d_model = 64·S, n_layer = 2·S (a Mamba block costs about half a Transformer block, as in the paper's pairs).
    /// </summary>
    public static MambaConfig MambaAtSize(string size)
    {
        string text = size.Trim();
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int s))
        {
            if (s < 1 || s > MaxSizeKnob) throw new ArgumentException($"--size {size}: expected 1 to {MaxSizeKnob} or a Mamba preset ({string.Join(", ", MambaConfig.Presets.Keys)})");
            return new MambaConfig { DModel = 64 * s, NLayer = 2 * s };
        }
        if (!MambaConfig.Presets.ContainsKey(text))
            throw new ArgumentException($"--size {size}: expected an integer 1 to {MaxSizeKnob} or a Mamba preset ({string.Join(", ", MambaConfig.Presets.Keys)})");
        return MambaConfig.Preset(text);
    }

    /// <summary>
    /// The matched model of each architecture, in the order given. <paramref name="maxPosition"/> is the largest
    /// 0-based byte position the comparison will run a model at (MegaByte's learned patch positions must reach it).
    /// Throws <see cref="ArgumentException"/> when a baseline cannot get within <see cref="Tolerance"/>.
    /// </summary>
    public static IReadOnlyList<MatchedModel> Match(IReadOnlyList<string> architectures, string size, string match, int context, long maxPosition, int megaBytePatch = 8)
    {
        if (match is not (MatchParams or MatchFlops)) throw new ArgumentException($"--match {match}: expected params or flops");
        if (context < 1) throw new ArgumentException($"--context {context}: expected >= 1");
        MatchedModel reference = Reference(size, context);
        double target = match == MatchParams ? reference.Parameters : reference.TrainingFlopsPerByte;
        var result = new List<MatchedModel>();
        foreach (string architecture in architectures)
        {
            MatchedModel model = architecture switch
            {
                "mamba" => reference,
                "transformer" => Transformer(target, match, context),
                "megabyte" => MegaByte(target, match, context, maxPosition, megaBytePatch),
                _ => throw new ArgumentException($"--archs: unknown architecture '{architecture}' (known: {string.Join(", ", KnownArchitectures)})"),
            };
            double ratio = model.RatioTo(reference, match);
            if (Math.Abs(ratio - 1) > Tolerance)
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"--size {size} --match {match}: the closest {architecture} ({model.Shape}) is {ratio:F2}× Mamba's {Quantity(match)}; no {architecture} of this family is within {Tolerance:P0} (try a larger --size)"));
            result.Add(model);
        }
        return result;
    }

    /// <summary>Mamba at <paramref name="size"/>: the model every other architecture is matched to.</summary>
    public static MatchedModel Reference(string size, int context) => Mamba(MambaAtSize(size), context);

    public static string Quantity(string match) => match == MatchParams ? "parameter count" : "training FLOPs per byte";

    static MatchedModel Mamba(MambaConfig config, int context)
    {
        config = config.Validate("--size");
        // The FLOP count lives on the model (it follows the modules), so build it once; seed 0, never trained.
        using ByteLanguageModel model = ModelFactory.FromConfig(config.ToJson(), "--size", seed: 0);
        return new MatchedModel("mamba", config.ToJson(), model.ParameterCount, model.TrainingFlopsPerByte(context),
            $"d_model {config.DModel}, n_layer {config.NLayer}, d_state {config.DState}, expand {config.Expand}");
    }

    static MatchedModel Transformer(double target, string match, int context)
    {
        double Measure(TransformerConfig c) => match == MatchParams ? c.ParameterCount() : c.TrainingFlopsPerByte(context);
        TransformerConfig best = Search(
            TransformerConfig.FromSize,
            (c, mlp) => c with { DMlp = mlp },
            c => c.ResolvedDMlp,
            Measure, target).Validate("compare");
        return new MatchedModel("transformer", best.ConfigJson(), best.ParameterCount(), best.TrainingFlopsPerByte(context),
            $"d_model {best.DModel}, n_layer {best.NLayer}, n_head {best.NHead}, d_mlp {best.ResolvedDMlp}");
    }

    static MatchedModel MegaByte(double target, string match, int context, long maxPosition, int patch)
    {
        if (context < patch) throw new ArgumentException($"--context {context}: MegaByte needs at least one patch of {patch} bytes");
        // The learned patch positions must cover training windows and the farthest generation position, no more:
        // unused positions would be parameters that never train.
        long reach = Math.Max(context, maxPosition + 2);
        int maxContext = checked((int)((reach + patch - 1) / patch * patch));
        double Measure(MegaByteConfig c) => match == MatchParams ? c.ParameterCount() : c.TrainingFlopsPerByte(context);
        MegaByteConfig best = Search(
            size => MegaByteConfig.FromSize(size, patch) with { MaxContext = maxContext },
            (c, mlp) => c with { DGlobalMlp = mlp },
            c => c.ResolvedDGlobalMlp,
            Measure, target).Validate("compare");
        return new MatchedModel("megabyte", best.ConfigJson(), best.ParameterCount(), best.TrainingFlopsPerByte(context),
            $"patch {best.PatchSize}, global {best.DGlobal}×{best.NGlobalLayer} (d_mlp {best.ResolvedDGlobalMlp}), local {best.DLocal}×{best.NLocalLayer}, max_context {best.MaxContext}");
    }

    /// <summary>
    /// For each value of the size knob (until its default shape costs over 4× the target), the MLP width whose
    /// cost is nearest the target (the cost is increasing in it, so bisection finds it); then the candidate nearest
    /// the target, or among those within 1% the one whose MLP is nearest its default width.
    /// </summary>
    internal static TConfig Search<TConfig>(
        Func<int, TConfig> bySize, Func<TConfig, int, TConfig> withMlp, Func<TConfig, int> defaultMlp,
        Func<TConfig, double> measure, double target)
    {
        var candidates = new List<(TConfig Config, double Error, double Distortion)>();
        for (int size = 1; size <= MaxSizeKnob; size++)
        {
            TConfig shape = bySize(size);
            int mlp0 = defaultMlp(shape);
            if (size > 1 && measure(shape) > 4 * target) break;
            int lo = 1, hi = 64 * mlp0;
            if (measure(withMlp(shape, hi)) < target) lo = hi;
            while (lo < hi)
            {
                int mid = lo + (hi - lo) / 2;
                if (measure(withMlp(shape, mid)) >= target) hi = mid;
                else lo = mid + 1;
            }
            foreach (int mlp in new[] { lo - 1, lo }.Where(m => m >= 1))
            {
                TConfig config = withMlp(shape, mlp);
                candidates.Add((config, Math.Abs(measure(config) / target - 1), Math.Abs(Math.Log((double)mlp / mlp0))));
            }
        }
        var close = candidates.Where(c => c.Error <= CloseEnough).ToList();
        return close.Count > 0
            ? close.MinBy(c => c.Distortion).Config
            : candidates.MinBy(c => c.Error).Config;
    }
}
