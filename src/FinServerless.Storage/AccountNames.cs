namespace FinServerless.Storage;

/// <summary>Reads the account name from an endpoint: the first host label in Azure, the first path segment on Azurite.</summary>
internal static class AccountNames
{
    public static string FromEndpoint(Uri endpoint)
    {
        var path = endpoint.AbsolutePath.Trim('/');
        if (path.Length > 0 && (endpoint.IsLoopback || System.Net.IPAddress.TryParse(endpoint.Host, out _)))
        {
            return path.Split('/')[0];
        }

        return endpoint.Host.Split('.')[0];
    }

    /// <summary>Escapes a blob name segment by segment, keeping '/' as the virtual folder separator.</summary>
    public static string EscapePath(string name) => string.Join('/', name.Split('/').Select(Uri.EscapeDataString));
}
