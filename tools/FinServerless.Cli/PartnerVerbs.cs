using System.Globalization;
using System.Text.Json;
using FinServerless.Contracts;
using FinServerless.Datasets.Contracts;
using FinServerless.Connections;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;

namespace FinServerless.Cli;

/// <summary>
/// <c>finserverless partner add</c>: onboards a partner. Validates the partner name and its dataset contract,
/// creates the partner's inbox container, stores the contract, and prints a time-limited SAS that lets the partner
/// create and write blobs in its own inbox and nothing else. Exit codes: 0 done, 2 bad usage or input, 1 failure.
/// </summary>
internal static class PartnerVerbs
{
    /// <summary>The usage text (also listed by <c>finserverless --help</c>).</summary>
    public const string Usage = """
          partner add --partner NAME --contract CONTRACT.json [--connection STRING] [--expires 7d|HOURS] [--json]
              onboard a partner: create its inbox container inbox-NAME, store the contract at
              contracts/NAME/{dataset}.json (replacing an older one, which is said), and print a SAS URL that lets the
              partner upload into inbox-NAME only (create and write; no read, list or delete; no other container).
              --expires: 7d by default, at most 30d (7d with an identity-based connection: a user delegation key
              lives 7 days at most); a number alone means hours. The connection defaults to the AzureWebJobsStorage
              setting (a connection string with the account key, or AzureWebJobsStorage__blobServiceUri with an identity)
        """;

    /// <summary>Default lifetime of a partner SAS.</summary>
    public static readonly TimeSpan DefaultExpiry = TimeSpan.FromDays(7);

    /// <summary>Longest lifetime of a partner SAS signed with the account key.</summary>
    public static readonly TimeSpan MaxExpiry = TimeSpan.FromDays(30);

    /// <summary>Longest lifetime of a SAS signed with a user delegation key (the key's own limit).</summary>
    public static readonly TimeSpan MaxDelegatedExpiry = TimeSpan.FromDays(7);

    /// <summary>Shortest lifetime accepted.</summary>
    public static readonly TimeSpan MinExpiry = TimeSpan.FromHours(1);

    private static readonly string[] Known = ["--partner", "--contract", "--connection", "--expires", "--json"];

    /// <summary>Runs <c>partner …</c> (<paramref name="args"/> without the verb).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, Func<string, string?> environment, CancellationToken cancellationToken)
    {
        if (args is [] or ["-h" or "--help" or "help", ..] || args.Contains("--help") || args.Contains("-h"))
        {
            (args.Length == 0 ? stderr : stdout).WriteLine($"finserverless partner add [options]\n\n{Usage}");
            return args.Length == 0 ? 2 : 0;
        }

        if (args[0] != "add")
        {
            stderr.WriteLine($"Unknown partner command {StorageName.Quote(args[0])}; the only one is 'add'.\n\n{Usage}");
            return 2;
        }

        try
        {
            var options = Parse(args[1..]);
            return await AddAsync(options, stdout, environment, cancellationToken).ConfigureAwait(false);
        }
        catch (PartnerUsageException ex)
        {
            stderr.WriteLine($"error: {ex.Message}");
            return 2;
        }
        catch (InvalidNameException ex)
        {
            stderr.WriteLine($"error: {ex.Message}");
            return 2;
        }
        catch (ContractException ex)
        {
            stderr.WriteLine($"error: --contract: {ex.Message}");
            return 2;
        }
        catch (Exception ex) when (ex is Azure.RequestFailedException or InvalidOperationException or FormatException or IOException or UnauthorizedAccessException or Azure.Identity.AuthenticationFailedException or Azure.Identity.CredentialUnavailableException)
        {
            stderr.WriteLine($"error: {ex.Message}");
            return 1;
        }
    }

    private static Dictionary<string, string?> Parse(string[] args)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (!Known.Contains(name))
            {
                throw new PartnerUsageException($"unknown option {StorageName.Quote(name)} for 'partner add' (options: {string.Join(", ", Known)}).");
            }

            if (name == "--json")
            {
                values[name] = null;
                continue;
            }

            if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                throw new PartnerUsageException($"{name} needs a value.");
            }

            values[name] = args[++i];
        }

        return values;
    }

    private static async Task<int> AddAsync(Dictionary<string, string?> options, TextWriter stdout, Func<string, string?> environment, CancellationToken cancellationToken)
    {
        var json = options.ContainsKey("--json");
        var partnerText = options.GetValueOrDefault("--partner") ?? throw new PartnerUsageException("partner add needs --partner NAME.");
        var partner = StorageName.Partner(partnerText, $"--partner {StorageName.Quote(partnerText)}");
        var contractPath = options.GetValueOrDefault("--contract") ?? throw new PartnerUsageException("partner add needs --contract CONTRACT.json.");
        if (!File.Exists(contractPath))
        {
            throw new PartnerUsageException($"--contract {StorageName.Quote(contractPath)} does not exist.");
        }

        var contractBytes = await File.ReadAllBytesAsync(contractPath, cancellationToken).ConfigureAwait(false);
        var contract = DatasetContract.Parse(contractBytes, contractPath);
        if (!string.Equals(contract.Partner, partner.Value, StringComparison.Ordinal))
        {
            throw new PartnerUsageException(
                $"--contract {StorageName.Quote(contractPath)} is for partner {StorageName.Quote(contract.Partner)}, not {StorageName.Quote(partner.Value)} (--partner): " +
                "a partner is onboarded with its own contract only; fix the contract's \"partner\" or the --partner option.");
        }

        var dataset = StorageName.Dataset(contract.Dataset, $"--contract {StorageName.Quote(contractPath)}: its \"dataset\" {StorageName.Quote(contract.Dataset)}");

        // Which key signs the SAS follows from the connection: the account key when it has one (Azurite, development),
        // else a user delegation key obtained with the connection's identity (Azure, where shared keys are off).
        var connection = options.GetValueOrDefault("--connection") is { Length: > 0 } text
            ? ConnectionString(text)
            : Connect(environment);
        var signer = connection.CredentialKind switch
        {
            StorageCredentialKind.AccountKey => Signer.AccountKey,
            StorageCredentialKind.Token => Signer.UserDelegation,
            StorageCredentialKind.SharedAccessSignature => throw new PartnerUsageException(
                "the storage connection authenticates with a SAS, which cannot issue another SAS: use a connection with the account key (Azurite, development) or an identity (AzureWebJobsStorage__blobServiceUri with a credential)."),
            _ => throw new PartnerUsageException(
                "the storage connection has no credential: use a connection with the account key (Azurite, development) or an identity (AzureWebJobsStorage__blobServiceUri with a credential)."),
        };
        var validFor = Expiry(options.GetValueOrDefault("--expires"), signer == Signer.UserDelegation ? MaxDelegatedExpiry : MaxExpiry, signer);

        var service = connection.CreateBlobServiceClient();
        var inbox = service.GetBlobContainerClient(StorageLayout.Inbox(partner));
        var inboxCreated = await inbox.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false) is not null;

        var contractLocation = StorageLayout.Contract(partner, dataset);
        var contractBlob = Blob(service, contractLocation);
        await contractBlob.GetParentBlobContainerClient().CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var previous = await PreviousVersionAsync(contractBlob, cancellationToken).ConfigureAwait(false);
        await contractBlob.UploadAsync(new BinaryData(contractBytes), new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" } }, cancellationToken).ConfigureAwait(false);

        var allowHttp = string.Equals(service.Uri.Scheme, "http", StringComparison.OrdinalIgnoreCase); // Azurite on plain HTTP
        var sas = await PartnerInboxSas.CreateAsync(service, partner, validFor, allowHttp, cancellationToken).ConfigureAwait(false);
        var sasUri = sas.Uri;

        var signedWith = signer == Signer.AccountKey
            ? $"the account key of '{service.AccountName}' (service SAS; revoke early by rotating that key)"
            : $"a user delegation key of the connection's identity (revoke early by revoking the account's user delegation keys)";
        string[] can =
        [
            $"create and write (overwrite) blobs in {inbox.Name}, for example {inbox.Name}/{dataset}/FILE.csv",
            allowHttp ? "do so over HTTPS or plain HTTP (this endpoint is plain HTTP, as Azurite is)" : "do so over HTTPS only",
            string.Create(CultureInfo.InvariantCulture, $"do so until {sas.ExpiresOn.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}"),
        ];
        string[] cannot =
        [
            $"read, list or delete anything, even in {inbox.Name}",
            $"reach any other container: other partners' inboxes, {StorageLayout.ContractsContainer}, {StorageLayout.CuratedContainer}, {StorageLayout.QuarantineContainer}, {StorageLayout.ModelsContainer}, {StorageLayout.ScoresContainer}",
            "use the SAS after it expires",
        ];

        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(new
            {
                partner = partner.Value,
                dataset = dataset.Value,
                container = inbox.Name,
                containerCreated = inboxCreated,
                contract = contractLocation,
                contractVersion = contract.ContractVersion,
                contractReplaced = previous is not null,
                previousContractVersion = previous,
                sasUrl = sasUri.ToString(),
                expiresOn = sas.ExpiresOn.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
                permissions = "cw",
                signedWith = signer == Signer.AccountKey ? "accountKey" : "userDelegationKey",
                can,
                cannot,
            }));
            return 0;
        }

        stdout.WriteLine($"Partner '{partner}' onboarded for dataset '{dataset}'.");
        stdout.WriteLine($"  inbox       {inbox.Name} ({(inboxCreated ? "created" : "already existed")})");
        stdout.WriteLine($"  contract    {contractLocation} (version {StorageName.Quote(contract.ContractVersion)}; " +
                         (previous is null ? "new)" : $"replaced an older contract, version {StorageName.Quote(previous)})"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  expires     {sas.ExpiresOn.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ} (in {Describe(validFor)})"));
        stdout.WriteLine($"  signed with {signedWith}");
        stdout.WriteLine($"  SAS URL     {sasUri}");
        stdout.WriteLine();
        stdout.WriteLine("The partner can:");
        foreach (var line in can)
        {
            stdout.WriteLine($"  - {line}");
        }

        stdout.WriteLine("The partner cannot:");
        foreach (var line in cannot)
        {
            stdout.WriteLine($"  - {line}");
        }

        stdout.WriteLine();
        stdout.WriteLine("To upload, the partner puts each file under the dataset folder, for example:");
        stdout.WriteLine($"  curl -X PUT -H 'x-ms-blob-type: BlockBlob' --data-binary @FILE.csv '{inbox.Uri}/{dataset}/FILE.csv?{sasUri.Query.TrimStart('?')}'");
        stdout.WriteLine("Send the SAS URL over a secure channel: whoever holds it can upload into this inbox until it expires.");
        return 0;
    }

    private static StorageConnection ConnectionString(string text)
    {
        try
        {
            return StorageConnection.FromConnectionString(text, "--connection");
        }
        catch (FormatException ex)
        {
            throw new PartnerUsageException($"--connection is not a storage connection string: {ex.Message}");
        }
    }

    private static StorageConnection Connect(Func<string, string?> environment)
    {
        try
        {
            return StorageConnection.FromSettings("AzureWebJobsStorage", environment);
        }
        catch (InvalidOperationException ex)
        {
            throw new PartnerUsageException($"no storage connection: pass --connection STRING or set AzureWebJobsStorage ({ex.Message})");
        }
    }

    private static async Task<string?> PreviousVersionAsync(BlobClient contract, CancellationToken cancellationToken)
    {
        BinaryData existing;
        try
        {
            existing = (await contract.DownloadContentAsync(cancellationToken).ConfigureAwait(false)).Value.Content;
        }
        catch (Azure.RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }

        try
        {
            return DatasetContract.Parse(existing.ToMemory().Span, $"{contract.BlobContainerName}/{contract.Name}").ContractVersion;
        }
        catch (ContractException)
        {
            return "(unreadable)";
        }
    }

    /// <summary>Parses <c>--expires</c>: <c>Nd</c> (days), <c>Nh</c> or a bare number (hours).</summary>
    internal static TimeSpan Expiry(string? text, TimeSpan max, Signer signer)
    {
        if (text is null)
        {
            return DefaultExpiry <= max ? DefaultExpiry : max;
        }

        var (number, unit) = text.EndsWith('d') ? (text[..^1], TimeSpan.FromDays(1))
            : text.EndsWith('h') ? (text[..^1], TimeSpan.FromHours(1))
            : (text, TimeSpan.FromHours(1));
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var count) || !double.IsFinite(count) || count <= 0)
        {
            throw new PartnerUsageException($"--expires {StorageName.Quote(text)} is not a duration: use days (7d), hours (36h) or a number of hours (36).");
        }

        var validFor = unit * count;
        if (validFor < MinExpiry || validFor > max)
        {
            var why = signer == Signer.UserDelegation && max == MaxDelegatedExpiry ? " with an identity-based connection (a user delegation key lives 7 days at most)" : string.Empty;
            throw new PartnerUsageException($"--expires {StorageName.Quote(text)} is out of range: a partner SAS lives between {Describe(MinExpiry)} and {Describe(max)}{why}.");
        }

        return validFor;
    }

    private static string Describe(TimeSpan span) =>
        span.TotalDays >= 1 && span.TotalDays == Math.Floor(span.TotalDays)
            ? $"{span.TotalDays.ToString(CultureInfo.InvariantCulture)} day{(span.TotalDays == 1 ? string.Empty : "s")}"
            : $"{span.TotalHours.ToString("0.##", CultureInfo.InvariantCulture)} hour{(span.TotalHours == 1 ? string.Empty : "s")}";

    private static BlobClient Blob(BlobServiceClient service, string location)
    {
        var slash = location.IndexOf('/');
        return service.GetBlobContainerClient(location[..slash]).GetBlobClient(location[(slash + 1)..]);
    }

    /// <summary>What signs the SAS.</summary>
    internal enum Signer
    {
        /// <summary>The account key (service SAS).</summary>
        AccountKey,

        /// <summary>A user delegation key from Entra ID.</summary>
        UserDelegation,
    }

    private sealed class PartnerUsageException(string message) : Exception(message);
}
