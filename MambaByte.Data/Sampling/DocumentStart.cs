namespace MambaByte.Data;

/// <summary>
/// The byte a document is read after when it starts from a fresh (zero) state. A byte-level model has no BOS
/// token, but the first byte of a document still has to be predicted from something: lm-evaluation-harness feeds its
/// prefix token (EOT/BOS) there. Here it is the store's separator byte when the store has one (it is the byte that
/// precedes every document in the stream anyway), otherwise a newline, 0x0A (text documents, kjv's books included,
/// end with one, so it is what a document start follows in the unseparated stream). Training with carried state and
/// document-level evaluation use the same byte, so what is trained is what is scored.
/// </summary>
public static class DocumentStart
{
    /// <summary>The start byte when the store has no separator.</summary>
    public const byte Newline = 0x0A;

    /// <summary>The start byte for a store with <paramref name="separator"/> (null: none).</summary>
    public static byte For(int? separator) => separator is { } s ? (byte)s : Newline;
}
