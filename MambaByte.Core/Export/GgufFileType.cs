namespace MambaByte.Core.Export;

/// <summary>
/// <c>general.file_type</c> (llama.cpp's <c>llama_ftype</c>): the type most weight matrices have. Norms, biases,
/// 1-D tensors, <c>ssm_a</c> and the conv1d kernel stay F32 whatever the file type, as llama.cpp's converter keeps them.
/// </summary>
public enum GgufFileType : uint
{
    AllF32 = 0,
    MostlyF16 = 1,
    MostlyQ8_0 = 7,
}
