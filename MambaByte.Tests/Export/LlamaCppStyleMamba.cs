using MambaByte.Core.Export;

namespace MambaByte.Tests.Export;

/// <summary>
/// A second, plain-double Mamba that reads nothing but a GGUF file and follows llama.cpp's conventions as its
/// loader and graph (<c>llm_build_mamba</c>, <c>ggml_ssm_conv</c>, <c>ggml_ssm_scan</c>) use them: dims listed
/// innermost first, <c>mul_mat(W{K, N}, x{K}) → y{N}</c> with y[j] = Σ_i W[j·K + i]·x[i], the conv kernel
/// {d_conv, d_inner}, A already −exp(A_log) as {d_state, d_inner}, softplus(dt) = dt for dt &gt; 20, RMSNorm with
/// the file's epsilon, and the output matrix falling back to token_embd. One token at a time with a recurrent state.
/// </summary>
internal sealed class LlamaCppStyleMamba
{
    readonly GgufFile file;
    readonly int nEmbd, nLayer, dInner, dState, dConv, dtRank;
    readonly double eps;
    readonly Dictionary<string, float[]> weights = new(StringComparer.Ordinal);
    readonly double[][][] convState;   // [layer][channel][d_conv − 1]
    readonly double[][][] ssmState;    // [layer][channel][d_state]

    public LlamaCppStyleMamba(GgufFile file)
    {
        this.file = file;
        nEmbd = (int)(uint)file["mamba.embedding_length"].Value;
        nLayer = (int)(uint)file["mamba.block_count"].Value;
        dInner = (int)(uint)file["mamba.ssm.inner_size"].Value;
        dState = (int)(uint)file["mamba.ssm.state_size"].Value;
        dConv = (int)(uint)file["mamba.ssm.conv_kernel"].Value;
        dtRank = (int)(uint)file["mamba.ssm.time_step_rank"].Value;
        eps = (float)file["mamba.attention.layer_norm_rms_epsilon"].Value;
        foreach (GgufTensorInfo t in file.Tensors) weights[t.Name] = file.ReadFloats(t.Name);
        convState = NewState(dConv - 1);
        ssmState = NewState(dState);
    }

    double[][][] NewState(int width) =>
        Enumerable.Range(0, nLayer).Select(_ => Enumerable.Range(0, dInner).Select(_ => new double[width]).ToArray()).ToArray();

    /// <summary>Feeds one token and returns the 256 logits for the next.</summary>
    public double[] Step(int token)
    {
        float[] embd = weights["token_embd.weight"];
        double[] x = Enumerable.Range(0, nEmbd).Select(i => (double)embd[token * nEmbd + i]).ToArray();
        for (int il = 0; il < nLayer; il++)
        {
            string p = $"blk.{il}.";
            double[] h = RmsNorm(x, weights[p + "attn_norm.weight"]);
            double[] xz = MulMat(p + "ssm_in.weight", h);                       // {2·d_inner}
            double[] u = new double[dInner];
            float[] conv = weights[p + "ssm_conv1d.weight"], convB = weights[p + "ssm_conv1d.bias"];
            for (int c = 0; c < dInner; c++)
            {
                double[] past = convState[il][c];
                double s = convB[c];
                for (int j = 0; j < dConv - 1; j++) s += past[j] * conv[c * dConv + j];
                s += xz[c] * conv[c * dConv + dConv - 1];
                Array.Copy(past, 1, past, 0, dConv - 2);
                past[dConv - 2] = xz[c];
                u[c] = Silu(s);
            }
            double[] xdb = MulMat(p + "ssm_x.weight", u);                        // {dt_rank + 2·d_state}
            double[] dt = MulMat(p + "ssm_dt.weight", xdb[..dtRank]);
            float[] dtB = weights[p + "ssm_dt.bias"], a = weights[p + "ssm_a"], d = weights[p + "ssm_d"];
            double[] y = new double[dInner];
            for (int c = 0; c < dInner; c++)
            {
                double delta = dt[c] + dtB[c];
                delta = delta <= 20 ? Math.Log(1 + Math.Exp(delta)) : delta;
                double sum = 0;
                for (int n = 0; n < dState; n++)
                {
                    double state = ssmState[il][c][n] * Math.Exp(delta * a[c * dState + n]) + xdb[dtRank + n] * u[c] * delta;
                    ssmState[il][c][n] = state;
                    sum += state * xdb[dtRank + dState + n];
                }
                y[c] = (sum + u[c] * d[c]) * Silu(xz[dInner + c]);
            }
            double[] o = MulMat(p + "ssm_out.weight", y);
            for (int i = 0; i < nEmbd; i++) x[i] += o[i];
        }
        double[] norm = RmsNorm(x, weights["output_norm.weight"]);
        return MulMat(weights.ContainsKey("output.weight") ? "output.weight" : "token_embd.weight", norm);
    }

    double[] MulMat(string name, double[] input)
    {
        GgufTensorInfo info = file.Tensor(name);
        int k = (int)info.Dimensions[0], n = (int)info.Dimensions[1];
        if (input.Length != k) throw new InvalidOperationException($"{name}: ne[0] = {k} but the input has {input.Length}");
        float[] w = weights[name];
        var y = new double[n];
        for (int j = 0; j < n; j++)
        {
            double s = 0;
            for (int i = 0; i < k; i++) s += w[j * k + i] * input[i];
            y[j] = s;
        }
        return y;
    }

    double[] RmsNorm(double[] x, float[] weight)
    {
        double mean = x.Sum(v => v * v) / x.Length;
        double scale = 1 / Math.Sqrt(mean + eps);
        return x.Select((v, i) => v * scale * weight[i]).ToArray();
    }

    static double Silu(double v) => v / (1 + Math.Exp(-v));
}
