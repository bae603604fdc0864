namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// Training rows that are read a pass at a time instead of held in memory, for
/// <see cref="FlowTrainer.Train(Torch.FlowArchitecture, StreamedRows, FlowTrainingOptions, Action{FlowTrainingProgress}?, CancellationToken, TorchSharp.torch.Device?)"/>.
/// The trainer reads them in storage order a few times (the row count and a sample, then the Gaussian's statistics in
/// double precision, the same order each time) and then once per epoch in a shuffled order; it holds one minibatch of training rows and the validation rows.
/// </summary>
/// <remarks>
/// Rows with a NaN or infinite value are skipped by the trainer. A row belongs to the validation split when a hash of
/// its <see cref="StreamedRow.Key"/> and <see cref="FlowTrainingOptions.Seed"/>, mapped to [0, 1), is below
/// <see cref="FlowTrainingOptions.ValidationFraction"/>: the split does not depend on the order a pass reads the rows
/// in, so the shuffled epochs never train on a validation row. The validation split therefore holds about, not
/// exactly, that fraction of the rows.
/// </remarks>
public abstract class StreamedRows
{
    /// <summary>Values per row.</summary>
    public abstract int Dimension { get; }

    /// <summary>
    /// One pass over all rows. With a null <paramref name="shuffleSeed"/> the order is the storage order; otherwise
    /// an order drawn from the seed (the same seed gives the same order), which need only be approximately uniform.
    /// </summary>
    /// <param name="shuffleSeed">Seed of the order, or null for the storage order.</param>
    /// <returns>
    /// The rows; <see cref="StreamedRow.Values"/> may be a buffer reused for the next row, so it is read before the
    /// enumeration moves on.
    /// </returns>
    public abstract IEnumerable<StreamedRow> Read(int? shuffleSeed);
}

/// <summary>A row of <see cref="StreamedRows"/>.</summary>
/// <param name="Key">Identifies the row across passes (its index in storage order, for instance).</param>
/// <param name="Values">The row's <see cref="StreamedRows.Dimension"/> values.</param>
public readonly record struct StreamedRow(ulong Key, float[] Values);
