namespace MambaByte.Train.Training;

/// <summary>Row-major (rows × length) input bytes and the next byte after each.</summary>
public sealed record TrainingBatch(int Rows, int Length, byte[] Inputs, byte[] Targets);
