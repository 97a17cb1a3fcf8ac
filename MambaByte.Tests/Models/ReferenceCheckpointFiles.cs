using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace MambaByte.Tests.Models;

/// <summary>
/// Builds checkpoint directories the way the official code and its safetensors conversions lay them out,
/// independently of MambaByte.Core: reference parameter names, shapes derived here from the config numbers, and
/// a safetensors writer of its own. Values are random but in the ranges a trained model has.
/// </summary>
internal sealed class ReferenceCheckpointFiles
{
    public const int DModel = 8, NLayer = 2, DState = 3, DConv = 3, DInner = 16, DtRank = 1, Vocab = 256;

    public readonly Dictionary<string, (long[] Shape, float[] Data)> Weights = new(StringComparer.Ordinal);

    public ReferenceCheckpointFiles(int seed, bool tied)
    {
        var rng = new Random(seed);
        float[] Uniform(long count, double low, double high) =>
            Enumerable.Range(0, (int)count).Select(_ => (float)(low + (high - low) * rng.NextDouble())).ToArray();
        void Add(string name, long[] shape, double low, double high) =>
            Weights[name] = (shape, Uniform(shape.Aggregate(1L, (a, b) => a * b), low, high));

        Add("backbone.embedding.weight", [Vocab, DModel], -0.5, 0.5);
        for (int i = 0; i < NLayer; i++)
        {
            string m = $"backbone.layers.{i}.mixer.";
            Add(m + "in_proj.weight", [2 * DInner, DModel], -0.3, 0.3);
            Add(m + "conv1d.weight", [DInner, 1, DConv], -0.5, 0.5);
            Add(m + "conv1d.bias", [DInner], -0.2, 0.2);
            Add(m + "x_proj.weight", [DtRank + 2 * DState, DInner], -0.3, 0.3);
            Add(m + "dt_proj.weight", [DInner, DtRank], -0.5, 0.5);
            Add(m + "dt_proj.bias", [DInner], -4, -2);
            Add(m + "A_log", [DInner, DState], -0.1, 0.1);
            float[] aLog = Weights[m + "A_log"].Data;
            for (int j = 0; j < aLog.Length; j++) aLog[j] = (float)(Math.Log(j % DState + 1) + aLog[j]);
            Add(m + "D", [DInner], 0.8, 1.2);
            Add(m + "out_proj.weight", [DModel, DInner], -0.3, 0.3);
            Add($"backbone.layers.{i}.norm.weight", [DModel], 0.8, 1.2);
        }
        Add("backbone.norm_f.weight", [DModel], 0.8, 1.2);
        if (!tied) Add("lm_head.weight", [Vocab, DModel], -0.3, 0.3);
        Tied = tied;
    }

    public bool Tied { get; }

    /// <summary>config.json as the official code writes it (an older checkpoint: no d_intermediate, no tie key when tied).</summary>
    public string ConfigJson =>
        $$"""{"d_model": {{DModel}}, "n_layer": {{NLayer}}, "vocab_size": {{Vocab}}, "ssm_cfg": {"d_state": {{DState}}, "d_conv": {{DConv}}}, "rms_norm": true, "residual_in_fp32": true, "fused_add_norm": true, "pad_vocab_size_multiple": 8{{(Tied ? "" : ", \"tie_embeddings\": false")}}}""";

    /// <summary>Writes config.json and model.safetensors with every tensor in <paramref name="dtype"/> (F32, F16 or BF16).</summary>
    public void WriteDirectory(string directory, string dtype = "F32", IReadOnlyDictionary<string, string>? rename = null,
        IEnumerable<string>? skip = null, bool withTiedHead = false)
    {
        File.WriteAllText(Path.Combine(directory, "config.json"), ConfigJson);
        var entries = Weights.Where(w => skip is null || !skip.Contains(w.Key))
            .Select(w => (Name: rename?.GetValueOrDefault(w.Key, w.Key) ?? w.Key, w.Value.Shape, w.Value.Data)).ToList();
        if (withTiedHead) entries.Add(("lm_head.weight", Weights["backbone.embedding.weight"].Shape, Weights["backbone.embedding.weight"].Data));
        WriteSafetensors(Path.Combine(directory, "model.safetensors"), entries, dtype);
    }

    /// <summary>The value a float becomes when stored as <paramref name="dtype"/> and read back.</summary>
    public static float Stored(float value, string dtype) => dtype switch
    {
        "F32" => value,
        "F16" => (float)(Half)value,
        "BF16" => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(value) & unchecked((int)0xFFFF0000)),
        _ => throw new ArgumentException(dtype),
    };

    public static void WriteSafetensors(string path, IEnumerable<(string Name, long[] Shape, float[] Data)> tensors, string dtype)
    {
        int size = dtype == "F32" ? 4 : 2;
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        var data = new MemoryStream();
        foreach (var (name, shape, values) in tensors)
        {
            long begin = data.Length;
            foreach (float v in values)
            {
                byte[] bytes = dtype switch
                {
                    "F32" => BitConverter.GetBytes(v),
                    "F16" => BitConverter.GetBytes((Half)v),
                    _ => BitConverter.GetBytes((ushort)(BitConverter.SingleToInt32Bits(v) >>> 16)),   // BF16 by truncation
                };
                data.Write(bytes);
            }
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(begin, data.Length),
            };
            if (data.Length - begin != values.Length * size) throw new InvalidOperationException("writer bug");
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        using var file = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)json.Length);
        file.Write(length);
        file.Write(json);
        data.Position = 0;
        data.CopyTo(file);
    }

    /// <summary>
    /// The reference math (mamba_simple.Mamba.forward via selective_scan_ref, block.Block, MixerModel,
    /// MambaLMHeadModel) in plain doubles, one byte at a time: logits [t][v] for <paramref name="bytes"/>.
    /// </summary>
    public double[][] ScalarLogits(IReadOnlyList<int> bytes)
    {
        double[] W(string name) => Weights[name].Data.Select(f => (double)f).ToArray();
        static double Silu(double x) => x / (1 + Math.Exp(-x));
        static double Softplus(double x) => x > 20 ? x : Math.Log(1 + Math.Exp(x));
        static double[] RmsNorm(double[] x, double[] w)
        {
            double ms = x.Sum(v => v * v) / x.Length;
            double r = 1 / Math.Sqrt(ms + 1e-5);
            return x.Select((v, i) => v * r * w[i]).ToArray();
        }
        static double[] MatVec(double[] m, int rows, int cols, double[] v)
        {
            var o = new double[rows];
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) o[r] += m[r * cols + c] * v[c];
            return o;
        }

        int L = bytes.Count;
        double[] embedding = W("backbone.embedding.weight");
        double[] head = Tied ? embedding : W("lm_head.weight");
        // hidden[t], residual[t]
        double[][] hidden = bytes.Select(b => embedding.Skip(b * DModel).Take(DModel).ToArray()).ToArray();
        double[][]? residual = null;
        for (int layer = 0; layer < NLayer; layer++)
        {
            string m = $"backbone.layers.{layer}.mixer.";
            double[] inProj = W(m + "in_proj.weight"), convW = W(m + "conv1d.weight"), convB = W(m + "conv1d.bias");
            double[] xProj = W(m + "x_proj.weight"), dtW = W(m + "dt_proj.weight"), dtB = W(m + "dt_proj.bias");
            double[] aLog = W(m + "A_log"), dSkip = W(m + "D"), outProj = W(m + "out_proj.weight");
            double[] normW = W($"backbone.layers.{layer}.norm.weight");

            residual = residual is null ? hidden : hidden.Select((h, t) => h.Select((v, i) => v + residual[t][i]).ToArray()).ToArray();
            double[][] xs = new double[L][], zs = new double[L][];
            for (int t = 0; t < L; t++)
            {
                double[] xz = MatVec(inProj, 2 * DInner, DModel, RmsNorm(residual[t], normW));
                xs[t] = xz[..DInner];
                zs[t] = xz[DInner..];
            }
            var h = new double[DInner, DState];
            var output = new double[L][];
            for (int t = 0; t < L; t++)
            {
                var xc = new double[DInner];
                for (int c = 0; c < DInner; c++)
                {
                    double acc = convB[c];
                    for (int j = 0; j < DConv; j++)
                    {
                        int src = t - (DConv - 1) + j;
                        if (src >= 0) acc += convW[c * DConv + j] * xs[src][c];
                    }
                    xc[c] = Silu(acc);
                }
                double[] xDbl = MatVec(xProj, DtRank + 2 * DState, DInner, xc);
                var y = new double[DInner];
                for (int c = 0; c < DInner; c++)
                {
                    double delta = dtB[c];
                    for (int r = 0; r < DtRank; r++) delta += dtW[c * DtRank + r] * xDbl[r];
                    delta = Softplus(delta);
                    for (int s = 0; s < DState; s++)
                    {
                        double a = -Math.Exp(aLog[c * DState + s]);
                        h[c, s] = Math.Exp(delta * a) * h[c, s] + delta * xDbl[DtRank + s] * xc[c];
                        y[c] += xDbl[DtRank + DState + s] * h[c, s];
                    }
                    y[c] = (y[c] + dSkip[c] * xc[c]) * Silu(zs[t][c]);
                }
                output[t] = MatVec(outProj, DModel, DInner, y);
            }
            hidden = output;
        }
        double[] normF = W("backbone.norm_f.weight");
        return hidden.Select((hh, t) => MatVec(head, Vocab, DModel, RmsNorm(hh.Select((v, i) => v + residual![t][i]).ToArray(), normF))).ToArray();
    }
}
